// A genuine second machine for LAN tests: a network namespace joined to this one by a veth pair, with 10.x
// addresses chosen here. Requests run from inside it (`ip netns exec`) reach the server from a non-loopback
// address, as a phone on the LAN would. Needs root (CAP_NET_ADMIN); probeNetns() says why not when it cannot.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const client = join(import.meta.dirname, 'lan-client.mjs');

export interface ClientRequest {
  url: string;
  /** Sent exactly as written (overrides the URL's path), so encoded traversal attempts arrive intact. */
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  upgrade?: boolean;
  timeoutMs?: number;
}

export interface ClientResponse {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: string;
  error?: string;
  open?: boolean;
}

export interface LanNetwork {
  ns: string;
  /** This machine's address on the link: what the server is reached on. */
  hostAddress: string;
  /** The namespace's address: what the server sees as the client. */
  clientAddress: string;
  request(spec: ClientRequest): Promise<ClientResponse>;
  /** A websocket held open from the namespace; `closed` settles when the server drops it. */
  holdWebsocket(spec: ClientRequest): Promise<{ opened: ClientResponse; closed: Promise<boolean>; stop(): void }>;
  destroy(): Promise<void>;
}

const ip = (...args: string[]) => run('ip', args);

/** Undefined when namespaces can be made here; otherwise the reason, for a test's skip message. */
export async function probeNetns(): Promise<string | undefined> {
  const name = `easel-probe-${process.pid}`;
  try {
    await ip('netns', 'add', name);
    await ip('netns', 'del', name);
    return undefined;
  } catch (error) {
    const detail = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim();
    return `network namespaces are not available here (needs root and iproute2): ${detail}`;
  }
}

export async function createLanNetwork(): Promise<LanNetwork> {
  const id = process.pid;
  const ns = `easel-lan-${id}`;
  const hostIf = `ea${id}h`.slice(0, 15);
  const nsIf = `ea${id}c`.slice(0, 15);
  // A /30 of 10.213.0.0/16 picked by pid, so two test runs at once do not collide.
  const base = `10.213.${(id >> 6) & 255}.${(id & 63) * 4}`.split('.').map(Number);
  const address = (last: number) => [...base.slice(0, 3), base[3]! + last].join('.');
  const [hostAddress, clientAddress] = [address(1), address(2)];
  const destroy = async () => {
    await ip('netns', 'del', ns).catch(() => undefined);
    await ip('link', 'del', hostIf).catch(() => undefined); // gone with the namespace, unless setup stopped halfway
  };
  try {
    await ip('netns', 'add', ns);
    await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    await ip('link', 'set', nsIf, 'netns', ns);
    await ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
    await ip('link', 'set', hostIf, 'up');
    await ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${clientAddress}/30`, 'dev', nsIf);
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  } catch (error) {
    await destroy();
    throw error;
  }

  const request = async (spec: ClientRequest): Promise<ClientResponse> => {
    const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, client, JSON.stringify(spec)], { timeout: 20_000 });
    return JSON.parse(stdout.trim().split('\n')[0] ?? '{}') as ClientResponse;
  };

  const holdWebsocket = (spec: ClientRequest) =>
    new Promise<{ opened: ClientResponse; closed: Promise<boolean>; stop(): void }>((resolve, reject) => {
      const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, client, JSON.stringify({ ...spec, upgrade: true, hold: true, timeoutMs: spec.timeoutMs ?? 15_000 })]);
      let buffer = '';
      let opened: ClientResponse | undefined;
      let settleClosed: (closed: boolean) => void = () => undefined;
      const closed = new Promise<boolean>((r) => (settleClosed = r));
      child.stdout?.on('data', (chunk) => {
        buffer += String(chunk);
        for (const line of buffer.split('\n').slice(0, -1)) {
          const message = JSON.parse(line) as ClientResponse & { closed?: boolean };
          if (!opened) {
            opened = message;
            resolve({ opened, closed, stop: () => child.kill() });
          } else if (message.closed) settleClosed(true);
          else settleClosed(false);
        }
        buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
      });
      child.on('exit', () => {
        settleClosed(false);
        if (!opened) reject(new Error('the websocket client exited before it connected'));
      });
    });

  return { ns, hostAddress, clientAddress, request, holdWebsocket, destroy };
}
