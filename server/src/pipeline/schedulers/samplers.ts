// The sampler catalogue: ids, display names and A1111 aliases, and the factory behind each id.
import type { SamplerInfo } from '../../http/schemas.js';
import { createDdimScheduler } from './ddim.scheduler.js';
import { createDpmpp2mKarrasScheduler, createDpmpp2mScheduler } from './dpmpp-2m.scheduler.js';
import { createEulerAncestralScheduler } from './euler-ancestral.scheduler.js';
import { createEulerScheduler } from './euler.scheduler.js';
import { createHeunScheduler } from './heun.scheduler.js';
import { createLcmScheduler } from './lcm.scheduler.js';
import { createLmsScheduler } from './lms.scheduler.js';
import { createPndmScheduler } from './pndm.scheduler.js';
import { createUniPcScheduler } from './unipc.scheduler.js';
import type { Scheduler, SchedulerConfig } from './scheduler.js';

interface SamplerEntry extends SamplerInfo {
  create(config: SchedulerConfig, steps: number): Scheduler;
}

// Names are A1111's display names; aliases add its k-diffusion ids and diffusers' class names.
const SAMPLERS: readonly SamplerEntry[] = [
  { id: 'euler', name: 'Euler', aliases: ['Euler', 'k_euler', 'EulerDiscreteScheduler'], create: createEulerScheduler },
  { id: 'euler_a', name: 'Euler a', aliases: ['Euler a', 'k_euler_a', 'euler_ancestral', 'EulerAncestralDiscreteScheduler'], create: createEulerAncestralScheduler },
  { id: 'ddim', name: 'DDIM', aliases: ['DDIM', 'DDIMScheduler'], create: createDdimScheduler },
  { id: 'pndm', name: 'PLMS', aliases: ['plms', 'PLMS', 'PNDM', 'PNDMScheduler'], create: createPndmScheduler },
  { id: 'lms', name: 'LMS', aliases: ['LMS', 'k_lms', 'LMSDiscreteScheduler'], create: createLmsScheduler },
  { id: 'heun', name: 'Heun', aliases: ['Heun', 'k_heun', 'HeunDiscreteScheduler'], create: createHeunScheduler },
  { id: 'dpmpp_2m', name: 'DPM++ 2M', aliases: ['DPM++ 2M', 'k_dpmpp_2m', 'DPMSolverMultistepScheduler'], create: createDpmpp2mScheduler },
  { id: 'dpmpp_2m_karras', name: 'DPM++ 2M Karras', aliases: ['DPM++ 2M Karras', 'k_dpmpp_2m_karras'], create: createDpmpp2mKarrasScheduler },
  { id: 'unipc', name: 'UniPC', aliases: ['UniPC', 'UniPCMultistepScheduler'], create: (config, steps) => createUniPcScheduler(config, steps) },
  { id: 'lcm', name: 'LCM', aliases: ['LCM', 'LCMScheduler'], create: (config, steps) => createLcmScheduler(config, steps) },
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
