// LAN sharing on and off at run time. Off, the server listens on loopback only; on, on every interface. A change
// moves the one listening socket (close, then listen on the new address, same port): connections already open
// carry on, nothing is written by hand, and a failed move goes back to the old address. Turning sharing off also
// drops every connection from another machine, websockets included.
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { EaselConfig } from '../config/config.js';
import type { AccessControl } from '../auth/access-control.js';
import { isLoopbackAddress, isLoopbackHost } from '../auth/request-origin.js';
import { AppError, badRequest } from '../http/errors.js';
import type { SettingsStore } from '../settings/settings-store.js';
import { lanUrls, type LanAddress } from './lan-addresses.js';

export interface SharingState {
  enabled: boolean;
  requireLoginOnLoopback: boolean;
  passwordSet: boolean;
  /** Where the server listens now; null before it listens. */
  listening: { host: string; port: number } | null;
  /** URLs other devices can open; empty while sharing is off. */
  addresses: LanAddress[];
}

export interface SharingUpdate {
  enabled?: boolean;
  password?: string;
  requireLoginOnLoopback?: boolean;
}

export class SharingService extends EventEmitter<{ changed: [SharingState] }> {
  private shared: boolean;
  private readonly remoteSockets = new Set<Socket>();
  private moving: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly server: Server,
    private readonly config: EaselConfig,
    private readonly settings: SettingsStore,
    private readonly access: AccessControl,
  ) {
    super();
    // A --host that is not loopback already shares, so it counts as on (and needs the password like --listen).
    this.shared = config.listen || settings.current.sharing.enabled || !isLoopbackHost(config.host);
    server.on('connection', (socket: Socket) => {
      if (isLoopbackAddress(socket.remoteAddress)) return;
      this.remoteSockets.add(socket);
      socket.once('close', () => this.remoteSockets.delete(socket));
    });
  }

  get enabled(): boolean {
    return this.shared;
  }

  /** The address to listen on now: the configured one when it fits the sharing state, else the usual default. */
  bindHost(): string {
    const configured = this.config.host;
    if (this.shared) return isLoopbackHost(configured) ? '0.0.0.0' : configured;
    return isLoopbackHost(configured) ? configured : '127.0.0.1';
  }

  state(): SharingState {
    const address = this.server.address();
    const listening = address && typeof address === 'object' ? { host: address.address, port: address.port } : null;
    return {
      enabled: this.shared,
      requireLoginOnLoopback: this.settings.current.sharing.requireLoginOnLoopback,
      passwordSet: this.access.passwordSet,
      listening,
      addresses: this.shared && listening ? lanUrls(listening.host, listening.port) : [],
    };
  }

  /** Applies a change from Settings: password first, then the switches, then the listening address. */
  update(change: SharingUpdate): Promise<SharingState> {
    const run = () => this.apply(change);
    const result = this.moving.then(run, run);
    this.moving = result.catch(() => undefined);
    return result;
  }

  private async apply(change: SharingUpdate): Promise<SharingState> {
    const wantsPassword = change.enabled === true || change.requireLoginOnLoopback === true;
    if (wantsPassword && change.password === undefined && !this.access.passwordSet) {
      throw badRequest('EASEL_ERR_PASSWORD_REQUIRED', 'set an access password first: others (and you, if asked) sign in with it', 'password');
    }
    if (change.password !== undefined) await this.access.setPassword(change.password);
    const before = this.settings.current.sharing;
    const next = {
      enabled: change.enabled ?? this.shared,
      requireLoginOnLoopback: change.requireLoginOnLoopback ?? before.requireLoginOnLoopback,
    };
    if (next.enabled !== before.enabled || next.requireLoginOnLoopback !== before.requireLoginOnLoopback) {
      await this.settings.update((s) => {
        s.sharing = next;
      });
    }
    if (next.enabled !== this.shared) {
      const was = this.shared;
      this.shared = next.enabled;
      try {
        await this.rebind();
      } catch (error) {
        this.shared = was;
        await this.settings.update((s) => {
          s.sharing.enabled = was;
        });
        const where = next.enabled ? 'every network interface' : 'this machine only';
        throw new AppError(409, 'EASEL_ERR_LISTEN', `could not listen on ${where}: ${(error as Error).message}`);
      }
      if (!this.shared) for (const socket of this.remoteSockets) socket.destroy();
    }
    const state = this.state();
    this.emit('changed', state);
    return state;
  }

  private async rebind(): Promise<void> {
    const address = this.server.address();
    if (!address || typeof address === 'string') return; // not listening yet: bindHost() is read when it starts
    const host = this.bindHost();
    if (host === address.address) return;
    // Closes only the listening socket; open connections (the request that asked for this one too) carry on.
    this.server.close();
    try {
      await listen(this.server, host, address.port);
    } catch (error) {
      await listen(this.server, address.address, address.port);
      throw error;
    }
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error): void => {
      server.off('listening', listening);
      reject(error);
    };
    const listening = (): void => {
      server.off('error', failed);
      resolve();
    };
    server.once('error', failed);
    server.once('listening', listening);
    server.listen({ host, port });
  });
}
