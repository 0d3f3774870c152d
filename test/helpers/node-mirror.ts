// A stand-in for nodejs.org/dist on 127.0.0.1, for the installer tests. It serves index.tab, SHASUMS256.txt and
// node-v<ver>-linux-<arch>.tar.xz laid out as the official tarball is (node-v…/bin/node, bin/npm →
// lib/node_modules/npm/bin/npm-cli.js), made from the Node.js running the tests.
//
// Its npm is a stub, not the machine's npm: a real `npm ci` would take minutes and need the registry. The stub
// records each call (arguments, ONNXRUNTIME_NODE_INSTALL, which node ran it) to $EASEL_TEST_NPM_LOG, makes
// node_modules as `npm ci` would, and fails `npm ci` when ONNXRUNTIME_NODE_INSTALL equals $EASEL_TEST_NPM_FAIL
// (how a failed CUDA download looks to the installer).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NodeBuild {
  version: string;
  /** The archive's file name, e.g. node-v20.20.2-linux-x64.tar.xz. */
  file: string;
  bytes: Buffer;
  sha256: string;
}

const STUB_NPM = `#!/usr/bin/env node
'use strict';
const fs = require('fs');
const args = process.argv.slice(2);
const onnxruntime = process.env.ONNXRUNTIME_NODE_INSTALL;
if (process.env.EASEL_TEST_NPM_LOG) {
  fs.appendFileSync(process.env.EASEL_TEST_NPM_LOG, JSON.stringify({ args, onnxruntime, node: process.execPath }) + '\\n');
}
if (args[0] === 'ci') {
  if (onnxruntime && onnxruntime === process.env.EASEL_TEST_NPM_FAIL) {
    console.error('stub npm: the onnxruntime CUDA download failed');
    process.exit(1);
  }
  fs.rmSync('node_modules', { recursive: true, force: true });
  fs.mkdirSync('node_modules');
  fs.writeFileSync('node_modules/.package-lock.json', '{}');
}
`;

/** Packs this machine's Node.js (with the stub npm) as nodejs.org packs a Linux build. Takes ~15 s (xz). */
export async function packNodeBuild(): Promise<NodeBuild> {
  const version = process.version;
  const name = `node-${version}-linux-${process.arch}`;
  const work = await mkdtemp(join(tmpdir(), 'easel-node-pack-'));
  try {
    const root = join(work, name);
    const npmDir = join(root, 'lib', 'node_modules', 'npm');
    await mkdir(join(root, 'bin'), { recursive: true });
    await mkdir(join(npmDir, 'bin'), { recursive: true });
    await copyFile(process.execPath, join(root, 'bin', 'node'));
    await chmod(join(root, 'bin', 'node'), 0o755);
    // Its own package.json, as real npm has: without one the stub would take "type": "module" from the app.
    await writeFile(join(npmDir, 'package.json'), JSON.stringify({ name: 'npm', version: '0.0.0-stub' }));
    await writeFile(join(npmDir, 'bin', 'npm-cli.js'), STUB_NPM, { mode: 0o755 });
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'bin', 'npm'));
    const file = `${name}.tar.xz`;
    // xz -0 keeps packing ~100 MB of node fast enough for a test; the format is what nodejs.org serves.
    await run('tar', ['-cJf', join(work, file), '-C', work, name], { env: { ...process.env, XZ_OPT: '-0 -T0' } });
    const bytes = await readFile(join(work, file));
    return { version, file, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface MirrorOptions {
  /** Archive requests to cut off halfway through the bytes they ask for (a dropped connection). */
  dropFirst?: number;
  /** Publish a SHA-256 that does not match the archive. */
  wrongSum?: boolean;
}

export interface NodeMirror {
  url: string;
  /** Every request, in order, with its Range header if any. */
  requests: { path: string; range?: string }[];
  close(): Promise<void>;
}

export async function startNodeMirror(build: NodeBuild, options: MirrorOptions = {}): Promise<NodeMirror> {
  const requests: NodeMirror['requests'] = [];
  let toDrop = options.dropFirst ?? 0;
  const sum = options.wrongSum ? createHash('sha256').update('some other file').digest('hex') : build.sha256;
  const base = `/${build.version}/`;
  // Decoys the installer must pass over: a newer LTS line it does not support, a non-LTS release, LTS
  // releases older than 20.19.
  const index = [
    'version\tdate\tfiles\tnpm\tv8\tuv\tzlib\topenssl\tmodules\tlts\tsecurity',
    `v24.0.0\t2026-01-01\tlinux-x64,linux-arm64,osx-arm64-tar\t11.0.0\t13.0\t1.50\t1.3\t3.5\t137\tKrypton\t-`,
    `v23.0.0\t2025-10-01\tlinux-x64,linux-arm64,osx-arm64-tar\t10.9.0\t12.9\t1.49\t1.3\t3.0\t131\t-\t-`,
    `${build.version}\t2025-06-01\tlinux-${process.arch},osx-arm64-tar\t10.8.0\t12.4\t1.48\t1.3\t3.0\t${process.versions.modules}\tTest\t-`,
    `v20.18.0\t2024-10-03\tlinux-x64,linux-arm64,osx-arm64-tar\t10.8.2\t11.3\t1.46\t1.3\t3.0\t115\tIron\t-`,
    `v18.20.0\t2024-03-26\tlinux-x64,linux-arm64,osx-arm64-tar\t10.5.0\t10.2\t1.44\t1.3\t3.0\t108\tHydrogen\t-`,
  ].join('\n');

  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://mirror').pathname);
    const range = req.headers.range;
    requests.push({ path, ...(range ? { range } : {}) });
    if (path === '/index.tab') return void res.end(index + '\n');
    if (path === `${base}SHASUMS256.txt`) {
      return void res.end(`${'0'.repeat(64)}  node-${build.version}-win-x64.zip\n${sum}  ${build.file}\n`);
    }
    if (path !== base + build.file) {
      res.statusCode = 404;
      return void res.end('not found');
    }
    const total = build.bytes.length;
    const start = Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1] ?? 0);
    if (start >= total) {
      res.writeHead(416, { 'content-range': `bytes */${total}` });
      return void res.end();
    }
    res.writeHead(start > 0 ? 206 : 200, {
      'content-type': 'application/x-xz',
      'content-length': String(total - start),
      'accept-ranges': 'bytes',
      ...(start > 0 ? { 'content-range': `bytes ${start}-${total - 1}/${total}` } : {}),
    });
    if (toDrop > 0) {
      toDrop--;
      const cut = start + Math.floor((total - start) / 2);
      return void res.write(build.bytes.subarray(start, cut), () => res.socket?.destroy());
    }
    res.end(build.bytes.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
