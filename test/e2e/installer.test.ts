// start.sh on a machine without Node.js: it fetches an official-style Node.js build from a mirror on 127.0.0.1,
// checks its SHA-256, unpacks it into the app folder and runs the installer with it. The app folder is a copy
// whose path has a space in it; PATH holds every tool of this machine except Node.js, npm and nvidia-smi.
// The mirror's npm is a stub (see test/helpers/node-mirror.ts), and EASEL_INSTALL_DRY_RUN=start stops short of
// starting the server, so no test runs a real `npm ci` or build.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { packNodeBuild, startNodeMirror, type MirrorOptions, type NodeBuild, type NodeMirror } from '../helpers/node-mirror.ts';

const root = join(import.meta.dirname, '..', '..');
const hasTool = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
const skip =
  process.platform !== 'linux'
    ? `the installer tests run on Linux only (this is ${process.platform}); start.bat is not tested here`
    : !['curl', 'tar', 'xz', 'sha256sum'].every(hasTool)
      ? 'the installer tests need curl, tar, xz and sha256sum'
      : false;

let build: NodeBuild;
let work: string;
let sandboxBin: string;

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), 'easel-installer-'));
  sandboxBin = await sandboxPath(join(work, 'bin'));
  build = await packNodeBuild();
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A directory linking every program on PATH except Node.js, npm and nvidia-smi: a machine without them. */
async function sandboxPath(dir: string): Promise<string> {
  const hidden = new Set(['node', 'nodejs', 'npm', 'npx', 'corepack', 'nvidia-smi']);
  await mkdir(dir, { recursive: true });
  const seen = new Set<string>();
  for (const from of (process.env.PATH ?? '').split(delimiter)) {
    if (!from || from.includes('node_modules') || !existsSync(from)) continue;
    for (const name of readdirSync(from)) {
      if (hidden.has(name) || seen.has(name)) continue;
      seen.add(name);
      await symlink(join(from, name), join(dir, name));
    }
  }
  return dir;
}

/** A fresh copy of what start.sh needs, in a folder whose name has a space. */
async function appCopy(label: string): Promise<string> {
  const app = join(work, label, 'Easel app');
  await mkdir(app, { recursive: true });
  for (const name of ['start.sh', 'package.json', 'package-lock.json']) await copyFile(join(root, name), join(app, name));
  cpSync(join(root, 'installer'), join(app, 'installer'), { recursive: true });
  return app;
}

async function scriptDir(dir: string, name: string, body: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

interface Run {
  code: number | null;
  output: string;
  npmCalls: { args: string[]; onnxruntime?: string; node: string }[];
}

async function startSh(app: string, mirror: NodeMirror | undefined, options: { path?: string[]; env?: Record<string, string> } = {}): Promise<Run> {
  const npmLog = join(app, '..', 'npm-calls.jsonl');
  rmSync(npmLog, { force: true });
  const env: Record<string, string> = {
    PATH: [...(options.path ?? []), sandboxBin].join(delimiter),
    HOME: join(app, '..'),
    LANG: 'C',
    EASEL_NODE_MIRROR: mirror ? mirror.url : 'http://127.0.0.1:9/unreachable',
    EASEL_INSTALL_DRY_RUN: 'start',
    EASEL_TEST_NPM_LOG: npmLog,
    // The mirror's index only offers this machine's Node.js; start.sh looks past 23+ on purpose.
    ...(Number(process.versions.node.split('.')[0]) > 22 ? { EASEL_NODE_VERSION: build.version } : {}),
    ...options.env,
  };
  // Run from elsewhere: start.sh must find its own folder.
  const child = spawn(join(app, 'start.sh'), ['--no-browser'], { cwd: tmpdir(), env });
  let output = '';
  child.stdout.on('data', (d) => (output += String(d)));
  child.stderr.on('data', (d) => (output += String(d)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  const npmCalls = existsSync(npmLog)
    ? (await readFile(npmLog, 'utf8')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Run['npmCalls'][number])
    : [];
  return { code, output, npmCalls };
}

async function withMirror<T>(options: MirrorOptions, body: (mirror: NodeMirror) => Promise<T>): Promise<T> {
  const mirror = await startNodeMirror(build, options);
  try {
    return await body(mirror);
  } finally {
    await mirror.close();
  }
}

const runtimeOf = (app: string) => join(app, '.runtime', build.file.replace(/\.tar\.xz$/, ''));

test('fresh install: Node.js is fetched, verified, unpacked and used; the next start is offline', { skip }, async () => {
  const app = await appCopy('fresh');
  const oldNode = await scriptDir(join(app, '..', 'old-node'), 'node', 'case "$1" in --version) echo v18.20.4 ;; *) exit 1 ;; esac');
  const first = await withMirror({}, (mirror) => startSh(app, mirror, { path: [oldNode] }));
  assert.equal(first.code, 0, first.output);
  assert.match(first.output, /v18\.20\.4 at .* is too old/);
  assert.match(first.output, new RegExp(`Downloading ${build.file.replaceAll('.', '\\.')}`));
  assert.match(first.output, /SHA-256 matches/);
  const runtime = runtimeOf(app);
  assert.ok(statSync(join(runtime, 'bin', 'node')).isFile(), 'node is unpacked into .runtime/');
  assert.match(first.output, new RegExp(`Using Node.js ${build.version} at ${join(runtime, 'bin', 'node')}`));
  assert.ok(!existsSync(join(app, '.runtime', 'downloads')), 'the download is cleaned up');

  // npm ran on the fetched Node.js, with no CUDA (no nvidia-smi), then built both parts.
  assert.deepEqual(first.npmCalls.map((c) => c.args.join(' ')), ['ci --no-audit --no-fund', 'run build -w server', 'run build -w ui']);
  assert.equal(first.npmCalls[0]!.onnxruntime, 'skip');
  assert.equal(first.npmCalls[0]!.node, join(runtime, 'bin', 'node'));
  assert.match(first.output, /no NVIDIA GPU found/);
  const stamp = JSON.parse(readFileSync(join(app, 'node_modules', '.easel-install.json'), 'utf8')) as { onnxruntime: string };
  assert.equal(stamp.onnxruntime, 'skip');

  // The mirror is gone now: an installed Easel starts without the network and installs nothing again.
  const second = await startSh(app, undefined, { path: [oldNode] });
  assert.equal(second.code, 0, second.output);
  assert.doesNotMatch(second.output, /Downloading|npm ci/);
  assert.deepEqual(second.npmCalls.map((c) => c.args[0]), ['run', 'run']);
  assert.match(second.output, /\(dry run\) would start: .*server\/dist\/main\.js --no-browser/);
});

test('an NVIDIA GPU asks for CUDA; when that download fails the install is redone without it', { skip }, async () => {
  const app = await appCopy('cuda');
  const gpu = await scriptDir(join(app, '..', 'gpu'), 'nvidia-smi', 'echo "Test GPU 9000"');
  const run = await withMirror({}, (mirror) => startSh(app, mirror, { path: [gpu], env: { EASEL_TEST_NPM_FAIL: 'cuda12' } }));
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /NVIDIA GPU found \(Test GPU 9000\)/);
  assert.deepEqual(run.npmCalls.filter((c) => c.args[0] === 'ci').map((c) => c.onnxruntime), ['cuda12', 'skip']);
  assert.match(run.output, /CUDA libraries could not be downloaded .* installing again without them/);
  const stamp = JSON.parse(readFileSync(join(app, 'node_modules', '.easel-install.json'), 'utf8')) as { onnxruntime: string };
  assert.equal(stamp.onnxruntime, 'skip');
});

test('an interrupted download resumes where it stopped, within a run and on the next run', { skip }, async () => {
  const app = await appCopy('resume');
  const part = join(app, '.runtime', 'downloads', `${build.file}.part`);
  await withMirror({ dropFirst: 3 }, async (mirror) => {
    const first = await startSh(app, mirror);
    assert.equal(first.code, 1, first.output);
    assert.match(first.output, /resuming \(attempt 2 of 3\)/);
    assert.match(first.output, /stopped before it finished .* run \.\/start\.sh again: it resumes where it stopped/);
    const kept = statSync(part).size;
    assert.ok(kept > 0 && kept < build.bytes.length, `a partial download is kept (${kept} bytes)`);
    assert.ok(!existsSync(runtimeOf(app)), 'nothing is unpacked from a partial download');

    const second = await startSh(app, mirror);
    assert.equal(second.code, 0, second.output);
    assert.match(second.output, /Resuming the earlier download/);
    const archiveRequests = mirror.requests.filter((r) => r.path.endsWith(build.file));
    assert.equal(archiveRequests.length, 4);
    assert.equal(archiveRequests.at(-1)!.range, `bytes=${kept}-`, 'the second run asks only for the rest');
    assert.ok(statSync(join(runtimeOf(app), 'bin', 'node')).isFile());
  });
});

test('a checksum mismatch is refused, with nothing unpacked', { skip }, async () => {
  const app = await appCopy('mismatch');
  const run = await withMirror({ wrongSum: true }, (mirror) => startSh(app, mirror));
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, new RegExp(`${build.file.replaceAll('.', '\\.')} does not match its published SHA-256`));
  assert.match(run.output, /nothing was installed/);
  assert.deepEqual(readdirSync(join(app, '.runtime')).filter((name) => name !== 'downloads'), []);
  assert.ok(!existsSync(join(app, '.runtime', 'downloads', `${build.file}.part`)), 'the bad file is deleted');
  assert.deepEqual(run.npmCalls, []);
});

test('a suitable Node.js on PATH is used, and nothing is downloaded', { skip }, async () => {
  const app = await appCopy('reuse');
  const nodeDir = join(app, '..', 'node-bin');
  await mkdir(nodeDir);
  await symlink(process.execPath, join(nodeDir, 'node'));
  await withMirror({}, async (mirror) => {
    const run = await startSh(app, mirror, { path: [nodeDir], env: { EASEL_INSTALL_DRY_RUN: 'deps,build,start' } });
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, new RegExp(`Using Node.js ${process.version} at ${join(nodeDir, 'node')}`));
    assert.match(run.output, /\(dry run\) would run: npm ci --no-audit --no-fund with ONNXRUNTIME_NODE_INSTALL=skip/);
    assert.deepEqual(mirror.requests, []);
    assert.ok(!existsSync(join(app, '.runtime')));
  });
});
