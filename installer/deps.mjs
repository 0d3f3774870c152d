// Dependencies. npm ci runs when node_modules is missing, when package-lock.json changed, or when the Node.js ABI
// changed since the last install (native modules are built for one ABI). onnxruntime-node's CUDA libraries are
// fetched only where an NVIDIA GPU answers; if that fetch fails the install runs again without them.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dryRun, fail, npm, npmDescription, say, startScript, step } from './common.mjs';

const STAMP = 'node_modules/.easel-install.json';
const LOCK = 'package-lock.json';

function current() {
  return {
    lock: createHash('sha256').update(readFileSync(LOCK)).digest('hex'),
    nodeAbi: process.versions.modules,
    platform: `${process.platform}-${process.arch}`,
  };
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Why npm ci must run, or undefined when node_modules fits this lock file and this Node.js. */
function installReason(now) {
  if (!existsSync('node_modules')) return 'first run, node_modules is missing';
  const stamp = readStamp();
  if (!stamp) {
    // Installed by hand (`npm ci`), which leaves no stamp: trust it unless the lock file is newer.
    const marker = 'node_modules/.package-lock.json';
    return existsSync(marker) && statSync(LOCK).mtimeMs <= statSync(marker).mtimeMs ? undefined : 'package-lock.json changed';
  }
  if (stamp.lock !== now.lock) return 'package-lock.json changed';
  if (stamp.nodeAbi !== now.nodeAbi || stamp.platform !== now.platform) {
    return `Node.js changed (${stamp.nodeVersion ?? 'unknown'} → ${process.version}), so native modules must be reinstalled`;
  }
  return undefined;
}

function nvidiaGpu() {
  const result = spawnSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8', timeout: 15_000 });
  return result.status === 0 ? result.stdout.trim().split('\n')[0] || 'unnamed GPU' : undefined;
}

/** The ONNXRUNTIME_NODE_INSTALL value for npm ci and the reason, in words. */
function onnxRuntimeInstall() {
  const given = process.env.ONNXRUNTIME_NODE_INSTALL;
  if (given) return { value: given, why: `ONNXRUNTIME_NODE_INSTALL=${given} was set, so it is used as given` };
  const platform = `${process.platform}-${process.arch}`;
  // onnxruntime-node publishes CUDA libraries for Linux x64 only; DirectML (Windows) and CoreML (macOS) are bundled.
  if (platform !== 'linux-x64') return { value: 'skip', why: `nothing extra to download for ${platform}` };
  const gpu = nvidiaGpu();
  return gpu
    ? { value: 'cuda12', why: `NVIDIA GPU found (${gpu}), so its CUDA 12 libraries are downloaded too` }
    : { value: 'skip', why: 'no NVIDIA GPU found (nvidia-smi did not answer), so the CPU build is used' };
}

function ci(onnxruntime) {
  return npm(['ci', '--no-audit', '--no-fund'], { ONNXRUNTIME_NODE_INSTALL: onnxruntime });
}

export function installDependencies() {
  step('Checking dependencies');
  const now = current();
  const reason = installReason(now);
  if (!reason) {
    say('Installed and up to date.');
    if (!readStamp()) writeFileSync(STAMP, JSON.stringify({ ...now, nodeVersion: process.version, onnxruntime: 'unknown' }, null, 2));
    return;
  }
  const ort = onnxRuntimeInstall();
  step(`Installing dependencies with npm ci (${reason})`);
  say(`onnxruntime: ${ort.why}.`);
  if (dryRun('deps')) {
    say(`(dry run) would run: npm ci --no-audit --no-fund with ONNXRUNTIME_NODE_INSTALL=${ort.value} (${npmDescription()})`);
    return;
  }
  let used = ort.value;
  let note;
  if (!ci(used)) {
    if (used !== 'cuda12') {
      fail('npm ci failed (see above).', `Check your internet connection and run ${startScript} again; it starts the install over.`);
    }
    step("onnxruntime's CUDA libraries could not be downloaded (see above): installing again without them");
    say(`Easel will run on the CPU. To try CUDA again later, delete node_modules and run ${startScript}.`);
    used = 'skip';
    note = 'the CUDA download failed; installed without it';
    if (!ci(used)) fail('npm ci failed (see above).', `Check your internet connection and run ${startScript} again.`);
  }
  writeFileSync(STAMP, JSON.stringify({ ...now, nodeVersion: process.version, onnxruntime: used, ...(note ? { note } : {}) }, null, 2));
  say('Dependencies installed.');
}
