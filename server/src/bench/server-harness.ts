// Runs the real server in its own process, as a user does, and talks to it over HTTP and the websocket. The
// benchmark's own clients then do not share the server's event loop.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { JobView } from '../http/schemas.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export type Entry = 'dist' | 'tsx';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** performance.now() when the process was spawned. */
  spawnedAt: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  modelsDir: string;
  entry?: Entry;
  env?: Record<string, string>;
  /** Reuse a data folder (its optimized-model cache, say) instead of a fresh one. */
  dataDir?: string;
  /** A fixed port (the cold-start benchmark polls it from the moment of spawning); an ephemeral one otherwise. */
  port?: number;
}

/** The compiled server when it is at least as new as every source file, else the sources through tsx. */
export function defaultEntry(): Entry {
  const main = join(repoRoot, 'server', 'dist', 'main.js');
  if (!existsSync(main)) return 'tsx';
  const built = statSync(main).mtimeMs;
  const src = join(repoRoot, 'server', 'src');
  const newest = readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .reduce((t, e) => Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs), 0);
  return newest <= built ? 'dist' : 'tsx';
}

export async function startServer(opts: StartOptions): Promise<ServerProcess> {
  const entry = opts.entry ?? defaultEntry();
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'easel-bench-data-')));
  const ownData = !opts.dataDir;
  const args =
    entry === 'dist' ? [join(repoRoot, 'server', 'dist', 'main.js')] : ['--import', 'tsx', join(repoRoot, 'server', 'src', 'main.ts')];
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...args, '--port', String(opts.port ?? 0), '--host', '127.0.0.1', '--models', opts.modelsDir, '--data', dataDir, '--no-browser'], {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/running at (http:\/\/\S+)/);
      if (match) resolve(match[1]!.replace('localhost', '127.0.0.1'));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening:\n${output}`)));
  });
  return {
    url,
    child,
    spawnedAt,
    dataDir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      if (ownData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface JobParams {
  model: string;
  width: number;
  height: number;
  steps: number;
  cfgScale?: number;
  sampler?: string;
  seed?: number;
  prompt?: string;
}

export async function postJob(url: string, p: JobParams): Promise<string> {
  const response = await fetch(`${url}/api/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      prompt: p.prompt ?? 'a photograph of an astronaut riding a horse',
      model: p.model,
      width: p.width,
      height: p.height,
      steps: p.steps,
      cfgScale: p.cfgScale ?? 7.5,
      sampler: p.sampler ?? 'euler',
      seed: p.seed ?? 1,
    }),
  });
  if (response.status !== 202) throw new Error(`POST /api/jobs answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

export async function getJob(url: string, id: string): Promise<JobView> {
  const response = await fetch(`${url}/api/jobs/${id}`);
  if (!response.ok) throw new Error(`GET /api/jobs/${id} answered ${response.status}`);
  return (await response.json()) as JobView;
}

export interface WsMessage {
  at: number;
  /** A JSON event, or undefined for a binary preview frame. */
  event?: { type: string; id?: string; job?: { id: string; state: string }; paused?: boolean; step?: number };
  bytes: number;
}

/** A websocket client that timestamps everything it receives. */
export class WatchClient {
  readonly messages: WsMessage[] = [];
  private readonly socket: WebSocket;
  private waiters: { test: (m: WsMessage) => boolean; resolve: (m: WsMessage) => void }[] = [];

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const message: WsMessage = { at: performance.now(), bytes: data.length };
      if (!isBinary) message.event = JSON.parse(data.toString()) as WsMessage['event'];
      this.messages.push(message);
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(message)) return true;
        w.resolve(message);
        return false;
      });
    });
  }

  static async connect(url: string): Promise<WatchClient> {
    const socket = new WebSocket(`${url.replace('http', 'ws')}/api/ws`);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new WatchClient(socket);
  }

  /** The first message received at or after `since` (performance.now()) that passes `test`. */
  next(test: (m: WsMessage) => boolean, since = performance.now(), timeoutMs = 3_600_000): Promise<WsMessage> {
    const seen = this.messages.find((m) => m.at >= since && test(m));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a websocket event')), timeoutMs);
      this.waiters.push({
        test,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** Resolves when the job is done (or throws when it failed or was cancelled). */
  async finished(jobId: string, since: number): Promise<WsMessage> {
    const end = await this.next((m) => ['job.done', 'job.failed', 'job.cancelled'].includes(m.event?.type ?? '') && m.event?.job?.id === jobId, since);
    if (end.event!.type !== 'job.done') throw new Error(`job ${jobId}: ${end.event!.type} ${JSON.stringify(end.event)}`);
    return end;
  }

  close(): void {
    this.socket.close();
  }
}

/** Runs one job and measures it end to end: from just before POST to the job.done event. */
export async function timedJob(url: string, client: WatchClient, p: JobParams): Promise<{ e2eMs: number; job: JobView }> {
  const started = performance.now();
  const id = await postJob(url, p);
  const done = await client.finished(id, started);
  const job = await getJob(url, id);
  if (!job.timings) throw new Error(`job ${id} has no timings`);
  return { e2eMs: done.at - started, job };
}
