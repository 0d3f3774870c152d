// Generation settings from ComfyUI's metadata (interop.md §2.3): the API-format `prompt` graph
// ({ id: { class_type, inputs } }, links as [nodeId, slot]) or, failing that, the UI-format `workflow`
// ({ nodes: [{ id, type, inputs, widgets_values }], links: [[id, from, slot, to, slot, type]] }). The sampler node
// (KSampler / KSamplerAdvanced) gives seed, steps, cfg and sampler; the text encoders wired to its positive and
// negative inputs give the prompts; the latent and checkpoint nodes behind it give size and model.
import type { ParsedFields } from './metadata-parse.js';

type Json = Record<string, unknown>;
type Link = [string, number];

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isLink = (v: unknown): v is Link => Array.isArray(v) && v.length === 2 && (typeof v[0] === 'string' || typeof v[0] === 'number');
const SAMPLER_TYPES = ['KSampler', 'KSamplerAdvanced'];

interface ApiNode {
  class_type: string;
  inputs: Json;
}

/** Settings from the API-format graph, or null when it has no sampler node. */
export function fieldsFromComfyPrompt(graph: unknown): ParsedFields | null {
  if (!isObject(graph)) return null;
  const nodes = new Map<string, ApiNode>();
  for (const [id, node] of Object.entries(graph)) {
    if (isObject(node) && typeof node.class_type === 'string') nodes.set(id, { class_type: node.class_type, inputs: isObject(node.inputs) ? node.inputs : {} });
  }
  const sampler = [...nodes.values()].find((n) => SAMPLER_TYPES.includes(n.class_type));
  if (!sampler) return null;
  const follow = (value: unknown, depth = 0): ApiNode | undefined => (isLink(value) && depth < 8 ? nodes.get(String(value[0])) : undefined);
  /** A scalar input, following links to primitive / reroute nodes. */
  const scalar = (value: unknown, names: readonly string[], depth = 0): unknown => {
    const node = follow(value, depth);
    if (!node) return value;
    for (const name of names) if (name in node.inputs) return scalar(node.inputs[name], names, depth + 1);
    return undefined;
  };
  /** The text of the encoder behind a conditioning input, through conditioning pass-through nodes. */
  const text = (value: unknown, depth = 0): string | undefined => {
    const node = follow(value, depth);
    if (!node) return undefined;
    for (const name of ['text', 'text_g', 'prompt']) {
      const v = scalar(node.inputs[name], ['text', 'string', 'value', 'prompt']);
      if (typeof v === 'string') return v;
    }
    for (const name of ['conditioning', 'conditioning_1', 'positive', 'negative']) {
      const found = text(node.inputs[name], depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  /** Walks a chain of `name` inputs until a node of one of `types` appears. */
  const upstream = (value: unknown, types: readonly string[], through: readonly string[], depth = 0): ApiNode | undefined => {
    const node = follow(value, depth);
    if (!node) return undefined;
    if (types.some((t) => node.class_type.startsWith(t))) return node;
    for (const name of through) {
      const found = upstream(node.inputs[name], types, through, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  const inputs = sampler.inputs;
  const latent = upstream(inputs.latent_image, ['EmptyLatentImage', 'EmptySD3LatentImage'], ['samples', 'latent', 'latent_image']);
  const checkpoint = upstream(inputs.model, ['CheckpointLoader', 'UNETLoader'], ['model']);
  return {
    prompt: text(inputs.positive),
    negativePrompt: text(inputs.negative),
    seed: numberOf(scalar(inputs.seed ?? inputs.noise_seed, ['seed', 'noise_seed', 'value', 'int'])),
    steps: numberOf(scalar(inputs.steps, ['steps', 'value', 'int'])),
    cfgScale: numberOf(scalar(inputs.cfg, ['cfg', 'value', 'float'])),
    samplerName: comfySamplerName(scalar(inputs.sampler_name, ['sampler_name', 'value']), scalar(inputs.scheduler, ['scheduler', 'value'])),
    width: numberOf(latent?.inputs.width),
    height: numberOf(latent?.inputs.height),
    model: stringOf(checkpoint?.inputs.ckpt_name ?? checkpoint?.inputs.unet_name),
    strength: (() => {
      const denoise = numberOf(scalar(inputs.denoise, ['denoise', 'value', 'float']));
      return denoise !== undefined && denoise < 1 ? denoise : undefined;
    })(),
  };
}

interface UiNode {
  id: number;
  type: string;
  inputs: { name: string; link: number | null }[];
  widgets: unknown[];
}

/** Settings from the UI-format workflow, read from the nodes' widget values. */
export function fieldsFromComfyWorkflow(workflow: unknown): ParsedFields | null {
  if (!isObject(workflow) || !Array.isArray(workflow.nodes)) return null;
  const nodes = new Map<number, UiNode>();
  for (const n of workflow.nodes) {
    if (!isObject(n) || typeof n.id !== 'number' || typeof n.type !== 'string') continue;
    const inputs = Array.isArray(n.inputs) ? n.inputs.filter(isObject).map((i) => ({ name: String(i.name), link: typeof i.link === 'number' ? i.link : null })) : [];
    nodes.set(n.id, { id: n.id, type: n.type, inputs, widgets: Array.isArray(n.widgets_values) ? n.widgets_values : [] });
  }
  const links = new Map<number, number>(); // link id → source node id
  for (const l of Array.isArray(workflow.links) ? workflow.links : []) {
    if (Array.isArray(l) && typeof l[0] === 'number' && typeof l[1] === 'number') links.set(l[0], l[1]);
    else if (isObject(l) && typeof l.id === 'number' && typeof l.origin_id === 'number') links.set(l.id, l.origin_id);
  }
  const source = (node: UiNode, name: string): UiNode | undefined => {
    const link = node.inputs.find((i) => i.name === name)?.link;
    const from = link === null || link === undefined ? undefined : links.get(link);
    return from === undefined ? undefined : nodes.get(from);
  };
  const sampler = [...nodes.values()].find((n) => SAMPLER_TYPES.includes(n.type));
  if (!sampler) return null;
  const text = (node: UiNode | undefined, depth = 0): string | undefined => {
    if (!node || depth > 8) return undefined;
    if (typeof node.widgets[0] === 'string' && node.type.includes('TextEncode')) return node.widgets[0];
    return text(source(node, 'conditioning'), depth + 1);
  };
  // KSampler widgets: seed, control_after_generate, steps, cfg, sampler_name, scheduler, denoise.
  // KSamplerAdvanced: add_noise, noise_seed, control_after_generate, steps, cfg, sampler_name, scheduler, ….
  const w = sampler.type === 'KSampler' ? sampler.widgets : sampler.widgets.slice(1);
  const latent = source(sampler, 'latent_image');
  const checkpoint = source(sampler, 'model');
  const denoise = sampler.type === 'KSampler' ? numberOf(w[6]) : undefined;
  return {
    prompt: text(source(sampler, 'positive')),
    negativePrompt: text(source(sampler, 'negative')),
    seed: numberOf(w[0]),
    steps: numberOf(w[2]),
    cfgScale: numberOf(w[3]),
    samplerName: comfySamplerName(w[4], w[5]),
    width: latent?.type.startsWith('EmptyLatentImage') ? numberOf(latent.widgets[0]) : undefined,
    height: latent?.type.startsWith('EmptyLatentImage') ? numberOf(latent.widgets[1]) : undefined,
    model: checkpoint?.type.startsWith('CheckpointLoader') ? stringOf(checkpoint.widgets[0]) : undefined,
    strength: denoise !== undefined && denoise < 1 ? denoise : undefined,
  };
}

/** "dpmpp_2m" + "karras" → "dpmpp_2m_karras", the form Easel's sampler ids take; plain schedules add nothing. */
function comfySamplerName(sampler: unknown, scheduler: unknown): string | undefined {
  if (typeof sampler !== 'string') return undefined;
  return scheduler === 'karras' ? `${sampler}_karras` : sampler;
}

function numberOf(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function stringOf(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
