// What every installer step shares: how it prints, how it fails, the dry-run switch, and running npm on the
// Node.js that start.sh chose (never another npm found on PATH).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const startScript = process.platform === 'win32' ? 'start.bat' : './start.sh';

export function step(text) {
  console.log(`\n==> ${text}`);
}

export function say(text) {
  console.log(`    ${text}`);
}

/** Prints what failed and what to do, then exits; start.sh stops there, and running it again resumes. */
export function fail(what, todo) {
  console.error(`\nEasel could not start: ${what}\n${todo}`);
  process.exit(1);
}

/** EASEL_INSTALL_DRY_RUN=deps,build,start names steps to describe instead of doing (the installer tests use it). */
export function dryRun(name) {
  return (process.env.EASEL_INSTALL_DRY_RUN ?? '').split(',').map((s) => s.trim()).includes(name);
}

// Official tarballs keep npm in lib/node_modules, the Windows zip beside node.exe, Debian in /usr/share/nodejs.
function npmCli() {
  const bin = dirname(process.execPath);
  return [
    join(bin, '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    join(bin, 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    '/usr/share/nodejs/npm/bin/npm-cli.js',
  ].find((path) => existsSync(path));
}

export function npmDescription() {
  return npmCli() ?? 'npm from PATH';
}

/** Runs npm with the given arguments and extra environment; returns true when it succeeded. */
export function npm(args, env = {}) {
  const cli = npmCli();
  const options = { stdio: 'inherit', env: { ...process.env, ...env } };
  // Without a known npm-cli.js, the one on PATH; Windows can only run npm.cmd through a shell.
  const result = cli
    ? spawnSync(process.execPath, [cli, ...args], options)
    : spawnSync('npm', args, { ...options, shell: process.platform === 'win32' });
  if (result.error) say(`could not run npm: ${result.error.message}`);
  return result.status === 0;
}
