// The owner's server settings as the page knows them (GET /api/settings/server): the filters read them to show an
// NSFW check the owner enforces, and the owner changes them in the Share dialog. One instance for the page, so a
// change there shows in the form at once.
import type { ServerSettingsUpdate, ServerSettingsView } from '../../../server/src/http/schemas.js';
import { api } from './api.js';

export class ServerSettingsState {
  current = $state<ServerSettingsView | null>(null);

  get nsfwEnforced(): boolean {
    return this.current?.filters.forceNsfwFilter === true;
  }

  /** Reads them again; on failure the page keeps what it knew (the server enforces the filter either way). */
  async refresh(): Promise<void> {
    try {
      this.current = await api.serverSettings();
    } catch {
      // offline or signed out: nothing new to show
    }
  }

  /** The owner's change; throws the server's error (a 400 naming the field, a 403 for others). */
  async update(change: ServerSettingsUpdate): Promise<void> {
    this.current = await api.updateServerSettings(change);
  }
}

export const serverSettings = new ServerSettingsState();
