// The sampler catalogue: ids, display names and A1111 aliases, and the factory behind each id.
import type { SamplerInfo } from '../../http/schemas.js';
import { createEulerScheduler } from './euler.scheduler.js';
import type { Scheduler, SchedulerConfig } from './scheduler.js';

interface SamplerEntry extends SamplerInfo {
  create(config: SchedulerConfig, steps: number): Scheduler;
}

const SAMPLERS: readonly SamplerEntry[] = [
  { id: 'euler', name: 'Euler', aliases: ['Euler', 'k_euler'], create: createEulerScheduler },
];

export const DEFAULT_SAMPLER = 'euler';

export function listSamplers(): SamplerInfo[] {
  return SAMPLERS.map(({ id, name, aliases }) => ({ id, name, aliases }));
}

/** Finds a sampler by id or alias, ignoring case; undefined when unknown. */
export function findSampler(name: string): SamplerEntry | undefined {
  const wanted = name.trim().toLowerCase();
  return SAMPLERS.find((s) => s.id === wanted || s.aliases.some((a) => a.toLowerCase() === wanted));
}

export function createScheduler(samplerId: string, config: SchedulerConfig, steps: number): Scheduler {
  const sampler = findSampler(samplerId);
  if (!sampler) throw new Error(`unknown sampler ${samplerId}`);
  return sampler.create(config, steps);
}
