// Entry point: config → buildApp() → listen. Prints the address, opens the browser, and shuts down cleanly.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { buildApp, version } from './app.js';
import { ConfigError, loadConfig, usage, type EaselConfig } from './config/config.js';
import { announceSharing } from './sharing/announce.js';

function openBrowser(url: string): void {
  const hasDisplay = process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  if (!hasDisplay) return;
  const [command, args] =
    process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : process.platform === 'darwin' ? ['open', [url]] : ['xdg-open', [url]];
  const child = spawn(command as string, args as string[], { stdio: 'ignore', detached: true });
  child.on('error', () => undefined); // no opener installed: the printed URL is enough
  child.unref();
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage);
    return;
  }
  let config: EaselConfig;
  try {
    config = loadConfig(argv, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`easel: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  mkdirSync(config.outputsDir, { recursive: true });
  mkdirSync(`${config.modelsDir}/stable-diffusion`, { recursive: true });

  const app = await buildApp(config, { logger: { level: config.logLevel } });
  // --listen, a non-loopback --host, or sharing left on in Settings: all interfaces; otherwise this machine only.
  const host = app.sharing.bindHost();
  try {
    await app.listen({ port: config.port, host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      console.error(`easel: port ${config.port} on ${host} is already in use — is Easel already running? Open http://localhost:${config.port} or start with --port <another port>.`);
    } else if (code === 'EACCES') {
      console.error(`easel: not allowed to listen on port ${config.port}; choose a port above 1024 with --port.`);
    } else {
      console.error(`easel: could not start: ${(error as Error).message}`);
    }
    await app.close();
    process.exit(1);
  }

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = host === '0.0.0.0' || host === '::' || host === '127.0.0.1' ? 'localhost' : host;
  const url = `http://${shownHost}:${port}`;
  console.log(`Easel ${version} is running at ${url}`);
  console.log(`Models: ${config.modelsDir}/stable-diffusion   Outputs: ${config.outputsDir}`);
  if (app.sharing.enabled) await announceSharing(app.sharing.state());
  app.sharing.on('changed', (state) => void announceSharing(state));
  console.log('Press Ctrl+C to stop.');
  if (config.openBrowser) openBrowser(url);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      console.log('Stopping now.');
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${signal}: stopping Easel (Ctrl+C again to force)…`);
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
