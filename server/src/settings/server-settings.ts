// The owner's server settings (`filters`, `performance` in <data>/settings.json): what every job runs under, whoever
// sent it. Reads are plain getters, so a job resolved after a change sees it at once; a change is saved first and
// then announced, so the render worker learns a new low-memory mode before its next model load.
import { existsSync } from 'node:fs';
import { badRequest } from '../http/errors.js';
import { catalogModelPath, VIT_NSFW_CLASSIFIER } from '../filters/available.js';
import { lowMemorySetting, type LowMemorySetting } from '../pipeline/memory-mode.js';
import type { ServerSettingsUpdate, ServerSettingsView } from '../http/schemas.js';
import type { FilterSettings, SettingsStore } from './settings-store.js';

export class ServerSettings {
  /** EASEL_LOW_MEMORY, when set: the mode from start-up until the owner picks one (deployment beats the file). */
  private lowMemoryOverride: LowMemorySetting | undefined;
  private readonly listeners = new Set<(view: ServerSettingsView) => void>();

  constructor(
    private readonly store: SettingsStore,
    private readonly modelsDir: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const fromEnv = env.EASEL_LOW_MEMORY;
    this.lowMemoryOverride = fromEnv?.trim() ? lowMemorySetting(fromEnv) : undefined;
  }

  get filters(): FilterSettings {
    return this.store.current.filters;
  }

  get lowMemory(): LowMemorySetting {
    return this.lowMemoryOverride ?? this.store.current.performance.lowMemory;
  }

  view(): ServerSettingsView {
    return { filters: { ...this.filters }, performance: { ...this.store.current.performance, lowMemory: this.lowMemory } };
  }

  /** Called after every saved change with the new view. */
  onChange(listener: (view: ServerSettingsView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async update(change: ServerSettingsUpdate): Promise<ServerSettingsView> {
    const { filters, performance } = change;
    // A classifier that is not there would silently fall back to the built-in; say so now instead.
    if (filters?.nsfwModel === VIT_NSFW_CLASSIFIER && !existsSync(catalogModelPath(this.modelsDir, 'nsfw', VIT_NSFW_CLASSIFIER))) {
      throw badRequest(
        'EASEL_ERR_NSFW_MODEL_NOT_FOUND',
        `filters.nsfwModel "${VIT_NSFW_CLASSIFIER}" is not installed; download it from the model catalog, or use auto or nsfwjs`,
        'filters.nsfwModel',
      );
    }
    await this.store.update((draft) => {
      Object.assign(draft.filters, filters);
      Object.assign(draft.performance, performance);
    });
    if (performance?.lowMemory) this.lowMemoryOverride = undefined;
    const view = this.view();
    for (const listener of this.listeners) listener(view);
    return view;
  }
}
