import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The built page lives in ui/dist and is served by the Easel server; in development Vite serves it and
// forwards the API (and its websocket) to a server running on the default port.
export default defineConfig({
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    proxy: {
      '/api': { target: 'http://localhost:9000', ws: true, changeOrigin: false },
    },
  },
});
