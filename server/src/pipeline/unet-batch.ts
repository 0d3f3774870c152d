// One UNet call for several images of a job: their inputs stacked along the batch axis, with classifier-free
// guidance laid out [negative × n; positive × n] so the guidance halves line up as they do for one image. Models
// whose UNet graph has a fixed batch get one call per image instead.
import type { SdModel } from './sd-model.js';
import { catBatch, floatTensor, type FloatTensor } from './tensor.js';

/** The prompt encoded once for a job: [negative; positive] ([2, L, D]) with guidance, else the prompt ([1, L, D]). */
export interface PromptEmbeddings {
  embeddings: FloatTensor;
  guided: boolean;
}

/** Images one UNet call may take: all of them, unless the exported graph fixes its batch axis. */
export function unetImagesPerCall(model: SdModel): number {
  return typeof model.unet.input('sample')?.shape[0] === 'number' ? 1 : Number.POSITIVE_INFINITY;
}

/**
 * ε for each image (guidance applied), in the order of `inputs` (each [1, C, h, w]). `lcmGuidance` feeds LCM
 * UNets' guidance embedding. Each returned array views this step's output; schedulers keep it, nobody writes it.
 */
export async function predictNoiseBatch(
  model: SdModel,
  inputs: readonly FloatTensor[],
  t: number,
  prompt: PromptEmbeddings,
  cfgScale: number,
  lcmGuidance?: number,
): Promise<Float32Array[]> {
  const perCall = Math.min(inputs.length, unetImagesPerCall(model));
  const noise: Float32Array[] = [];
  for (let from = 0; from < inputs.length; from += perCall) {
    const part = inputs.slice(from, from + perCall);
    const sample = catBatch(prompt.guided ? [...part, ...part] : part);
    const out = await predictNoise(model, sample, t, repeatEmbeddings(prompt, part.length), lcmGuidance);
    const guided = prompt.guided ? applyGuidance(out.data, cfgScale) : out.data;
    const size = guided.length / part.length;
    for (let i = 0; i < part.length; i++) noise.push(guided.subarray(i * size, (i + 1) * size));
  }
  return noise;
}

/** [negative × n; positive × n] with guidance, else [prompt × n]. */
function repeatEmbeddings({ embeddings }: PromptEmbeddings, n: number): FloatTensor {
  if (n === 1) return embeddings;
  const [rows, ...rest] = embeddings.dims as [number, ...number[]];
  const size = embeddings.data.length / rows;
  const halves = Array.from({ length: rows }, (_, r) => floatTensor([1, ...rest], embeddings.data.subarray(r * size, (r + 1) * size)));
  return catBatch(halves.flatMap((half) => Array<FloatTensor>(n).fill(half)));
}

async function predictNoise(model: SdModel, sample: FloatTensor, t: number, embeddings: FloatTensor, lcmGuidance?: number): Promise<FloatTensor> {
  const timestep = model.unet.input('timestep');
  const cond = model.unet.input('timestep_cond');
  // A 0-d timestep (newer optimum exports) or one per batch row; diffusers' graphs broadcast either way.
  const dims = timestep && timestep.shape.length === 0 ? [] : [sample.dims[0] as number];
  const timesteps = new Float32Array(dims.length === 0 ? 1 : (dims[0] as number)).fill(t);
  return firstOutput(model.unet.run({
    sample: { kind: 'float', dims: sample.dims, data: sample.data },
    timestep: { kind: 'float', dims, data: timesteps },
    encoder_hidden_states: { kind: 'float', dims: embeddings.dims, data: embeddings.data },
    ...(cond && lcmGuidance !== undefined
      ? { timestep_cond: guidanceEmbedding(lcmGuidance, typeof cond.shape[1] === 'number' ? cond.shape[1] : 256, sample.dims[0] as number) }
      : {}),
  }));
}

export async function firstOutput(pending: Promise<Record<string, FloatTensor>>): Promise<FloatTensor> {
  const outputs = await pending;
  const first = Object.values(outputs)[0];
  if (!first) throw new Error('the model returned no output');
  return first;
}

/** diffusers' get_guidance_scale_embedding: sinusoidal features of (scale − 1)·1000, sin half then cos half. */
function guidanceEmbedding(scale: number, dim: number, batch: number): { kind: 'float'; dims: number[]; data: Float32Array } {
  const w = (scale - 1) * 1000;
  const half = Math.floor(dim / 2);
  const row = new Float32Array(dim);
  const step = Math.log(10000) / (half - 1);
  for (let i = 0; i < half; i++) {
    const angle = w * Math.exp(-step * i);
    row[i] = Math.sin(angle);
    row[half + i] = Math.cos(angle);
  }
  const data = new Float32Array(dim * batch);
  for (let b = 0; b < batch; b++) data.set(row, b * dim);
  return { kind: 'float', dims: [batch, dim], data };
}

/** noise = uncond + scale · (text − uncond), for a batch laid out [uncond × n; text × n]. */
function applyGuidance(noise: Float32Array, scale: number): Float32Array {
  const half = noise.length / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const uncond = noise[i] as number;
    out[i] = uncond + scale * ((noise[half + i] as number) - uncond);
  }
  return out;
}
