// What start.sh and start.bat run once they have a Node.js: install dependencies when needed, build what is
// stale. Plain JavaScript, because it runs before anything is installed or built. It never touches the network
// unless dependencies are missing, so an installed Easel starts offline.
import { fileURLToPath } from 'node:url';
import { buildStale } from './build.mjs';
import { installDependencies } from './deps.mjs';

process.chdir(fileURLToPath(new URL('..', import.meta.url)));
installDependencies();
buildStale();
