// Finding this server's model or sampler for a name another program wrote ("Euler a", "v1-5-pruned.safetensors
// [6ce0161689]", "dpmpp_2m_karras"). Case and punctuation are ignored; unknown names give null.
import type { ModelInfo, SamplerInfo } from '../../../server/src/http/schemas.js';

const squash = (name: string) => name.toLowerCase().replace(/[^a-z0-9+]/g, '');

export function matchSampler(name: string, samplers: readonly SamplerInfo[]): string | null {
  const find = (wanted: string) =>
    samplers.find((s) => [s.id, s.name, ...s.aliases].some((n) => squash(n) === squash(wanted)))?.id ?? null;
  // "DPM++ 2M Karras" may be unknown where "DPM++ 2M" is known: the schedule is then the only loss.
  return find(name) ?? find(name.replace(/[\s_]karras$/i, ''));
}

export function matchModel(name: string, models: readonly ModelInfo[]): string | null {
  const bare = name
    .replace(/\s*\[[0-9a-f]+\]\s*$/i, '') // A1111's "name [hash]" title
    .replace(/^.*[\\/]/, '') // a folder path
    .replace(/\.(safetensors|ckpt|pt|bin|onnx)$/i, '');
  const wanted = squash(bare);
  if (!wanted) return null;
  return models.find((m) => squash(m.id) === wanted || squash(m.name) === wanted)?.id ?? null;
}
