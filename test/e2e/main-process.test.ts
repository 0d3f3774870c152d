// The compiled server as ./start.sh runs it: it prints its URL, serves, refuses a busy port plainly, and
// stops cleanly on Ctrl+C (SIGINT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/free-port.js';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'server', 'dist', 'main.js');
const skip = existsSync(main) ? false : 'server/dist/main.js is not built: run `npm run build` (npm test does it first)';

function start(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [main, ...args], { cwd: root, env: { ...process.env, EASEL_NO_BROWSER: '1' } });
  let text = '';
  child.stdout?.on('data', (d) => (text += String(d)));
  child.stderr?.on('data', (d) => (text += String(d)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => text, exited };
}

async function waitFor(pred: () => boolean, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('start, refuse a busy port, stop on SIGINT', { skip }, async () => {
  const data = await mkdtemp(join(tmpdir(), 'easel-main-'));
  const port = await freePort();
  const args = ['--port', String(port), '--data', data, '--models', join(data, 'models'), '--no-browser'];
  const first = start(args);
  await waitFor(() => first.output().includes('is running at'), 'the first server');
  assert.match(first.output(), new RegExp(`http://localhost:${port}`));
  const health = (await (await fetch(`http://127.0.0.1:${port}/api/health`)).json()) as { status: string };
  assert.equal(health.status, 'ok');

  const second = start(args);
  assert.equal(await second.exited, 1);
  assert.match(second.output(), new RegExp(`port ${port} .* already in use`));

  first.child.kill('SIGINT');
  assert.equal(await first.exited, 0);
  assert.match(first.output(), /stopping Easel/);
  await rm(data, { recursive: true, force: true });
});

test('a bad flag is a usage error, not a crash', { skip }, async () => {
  const bad = start(['--port', 'twelve']);
  assert.equal(await bad.exited, 2);
  assert.match(bad.output(), /port must be a whole number/);
});
