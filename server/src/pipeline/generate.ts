// One image from a prompt — text to image, image to image, or inpainting — as one readable numbered loop.
// Progress, previews and cancellation hang off one step callback. Random draws happen in diffusers' order, so
// a seed gives the picture diffusers (and A1111 with the CPU generator) gives.
import { tensorToRgb, type RgbImage } from '../images/encode.js';
import { encodePrompt, encodePromptPair } from './encode-prompt.js';
import { maskedImageTensor, maskToLatent, rgbToTensor, type GrayImage } from './init-image.js';
import { TorchGenerator } from './rng.js';
import { parseSchedulerConfig } from './schedulers/scheduler.js';
import { createScheduler } from './schedulers/samplers.js';
import { endStage, vaeEncoderOf, type SdModel } from './sd-model.js';
import { catBatch, floatTensor, type FloatTensor } from './tensor.js';
import { decodeLatents } from './vae-decode.js';

export interface GenerateParams {
  prompt: string;
  negativePrompt: string;
  sampler: string;
  steps: number;
  cfgScale: number;
  width: number;
  height: number;
  seed: number;
  /** img2img: the picture to start from (already at width × height) and how much to change it (0–1]. */
  init?: { image: RgbImage; strength: number; mask?: GrayImage };
}

export interface StepInfo {
  /** 1-based count of UNet calls done, and how many this image will make. */
  step: number;
  totalSteps: number;
  /** The predicted clean latents [4, h, w] after this step: what previews show. */
  predOriginal: Float32Array;
  latentWidth: number;
  latentHeight: number;
}

export interface GenerateHooks {
  onStep?(info: StepInfo): void | Promise<void>;
  /** Checked between steps; true stops the loop. */
  shouldStop?(): boolean;
}

export interface GenerateResult {
  image: RgbImage;
  latents: Float32Array;
  /** True when the loop was stopped early: the image is the denoiser's best guess at that point. */
  partial: boolean;
}

/** Returns undefined only when stopped before the first step finished. */
export async function generate(model: SdModel, p: GenerateParams, hooks: GenerateHooks = {}): Promise<GenerateResult | undefined> {
  // 1. Check inputs.
  if (p.width % 8 !== 0 || p.height % 8 !== 0) throw new Error('width and height must be multiples of 8');
  const latentWidth = p.width / 8;
  const latentHeight = p.height / 8;
  const latentShape = [1, 4, latentHeight, latentWidth];
  const latentSize = 4 * latentHeight * latentWidth;
  // LCM-distilled UNets take the guidance scale as an embedding (timestep_cond) and run without a negative pass.
  const guidanceEmbedded = model.unet.input('timestep_cond') !== undefined;
  const guided = p.cfgScale > 1 && !guidanceEmbedded;
  const inpaintUnet = model.latentChannels === 9;
  if (inpaintUnet && !p.init?.mask) throw new Error('this is an inpainting model: give an initial image and a mask');
  if (p.init && (p.init.image.width !== p.width || p.init.image.height !== p.height)) {
    throw new Error(`the initial image is ${p.init.image.width}x${p.init.image.height}, expected ${p.width}x${p.height}`);
  }

  // 2. Encode the prompt (and the negative prompt for classifier-free guidance: [negative; positive]).
  const embeddings = guided
    ? catBatch((await encodePromptPair(model, p.prompt, p.negativePrompt)).reverse())
    : await encodePrompt(model, p.prompt);
  await endStage(model, model.textEncoder);

  // 3. Timesteps; img2img starts part-way, where diffusers' get_timesteps puts it.
  const scheduler = createScheduler(p.sampler, parseSchedulerConfig(model.schedulerConfig), p.steps);
  const strength = p.init ? p.init.strength : 1;
  const initSteps = Math.min(Math.floor(p.steps * strength), p.steps);
  if (initSteps < 1) throw new Error(`strength ${strength} with ${p.steps} steps runs no step: raise either so that steps × strength ≥ 1`);
  const startIndex = (p.steps - initSteps) * scheduler.order;
  const totalSteps = scheduler.timesteps.length - startIndex;

  // 4. Initial latents, drawing from one CPU generator in diffusers' order: VAE posterior, then the noise.
  const rng = new TorchGenerator(p.seed);
  let imageLatents: Float32Array | undefined;
  if (p.init) imageLatents = await encodeImage(model, rgbToTensor(p.init.image), latentShape, rng);
  const noise = rng.randn(latentSize);
  let latents: Float32Array;
  if (!imageLatents || (p.init?.mask && strength >= 1)) {
    latents = noise.map((v) => v * scheduler.initNoiseSigma);
  } else {
    latents = scheduler.addNoise(imageLatents, noise, startIndex);
  }
  const mask = p.init?.mask ? maskToLatent(p.init.mask, latentWidth, latentHeight) : undefined;
  const maskedLatents =
    inpaintUnet && p.init?.mask ? await encodeImage(model, maskedImageTensor(rgbToTensor(p.init.image), p.init.mask), latentShape, rng) : undefined;
  await endStage(model, model.vaeEncoder);

  // 5. Denoise.
  let predOriginal: Float32Array | undefined;
  for (let i = startIndex; i < scheduler.timesteps.length; i++) {
    if (hooks.shouldStop?.()) break;
    const t = scheduler.timesteps[i] as number;
    let unetInput = floatTensor(latentShape, scheduler.scaleModelInput(latents, i));
    if (inpaintUnet && mask && maskedLatents) unetInput = concatChannels([unetInput, floatTensor([1, 1, latentHeight, latentWidth], mask), floatTensor(latentShape, maskedLatents)]);
    const sample = guided ? catBatch([unetInput, unetInput]) : unetInput;
    const out = await predictNoise(model, sample, t, embeddings, guidanceEmbedded ? p.cfgScale : undefined);
    const guidedNoise = guided ? applyGuidance(out.data, p.cfgScale) : out.data;
    const step = scheduler.step(guidedNoise, i, latents, rng);
    latents = step.prevSample;
    predOriginal = step.predOriginal;
    if (mask && imageLatents && !inpaintUnet) latents = blendKeptArea(scheduler, latents, imageLatents, noise, mask, i);
    await hooks.onStep?.({ step: i - startIndex + 1, totalSteps, predOriginal, latentWidth, latentHeight });
  }
  await endStage(model, model.unet);
  const finished = !hooks.shouldStop?.();
  if (!finished && !predOriginal) return undefined;

  // 6. Decode: the final latents, or the best guess so far when stopped early.
  const result = finished ? latents : (predOriginal as Float32Array);
  const decoded = await decodeLatents(model.vaeDecoder, result.map((v) => v / model.vaeScalingFactor), latentWidth, latentHeight);
  await endStage(model, model.vaeDecoder);
  return { image: tensorToRgb(decoded, p.width, p.height), latents: result, partial: !finished };
}

/**
 * VAE-encodes a [-1, 1] image to scaled latents. diffusers samples the posterior with one draw from the
 * generator; the draw is made here whatever the encoder returns, so later draws line up. An encoder that returns
 * mean ‖ log-variance (optimum exports) is sampled with it; one that samples inside its graph (diffusers' export)
 * returns the latent directly.
 */
async function encodeImage(model: SdModel, image: Float32Array, latentShape: number[], rng: TorchGenerator): Promise<Float32Array> {
  const encoder = await vaeEncoderOf(model);
  const [, , h, w] = latentShape as [number, number, number, number];
  const out = await firstOutput(encoder.run({ sample: { kind: 'float', dims: [1, 3, h * 8, w * 8], data: image } }));
  const size = 4 * h * w;
  const eps = rng.randn(size);
  const latent = new Float32Array(size);
  const moments = out.dims[1] === 8;
  for (let i = 0; i < size; i++) {
    const mean = out.data[i] as number;
    latent[i] = (moments ? mean + Math.exp(0.5 * Math.max(-30, Math.min(20, out.data[size + i] as number))) * (eps[i] as number) : mean) * model.vaeScalingFactor;
  }
  return latent;
}

/** Inpainting with an ordinary model: after each step, the kept area is put back, noised to the next level. */
function blendKeptArea(
  scheduler: { timesteps: number[]; addNoise(x: Float32Array, n: Float32Array, i: number): Float32Array },
  latents: Float32Array,
  imageLatents: Float32Array,
  noise: Float32Array,
  mask: Float32Array,
  index: number,
): Float32Array {
  const last = index >= scheduler.timesteps.length - 1;
  const kept = last ? imageLatents : scheduler.addNoise(imageLatents, noise, index + 1);
  const plane = mask.length;
  return latents.map((v, i) => {
    const m = mask[i % plane] as number;
    return (1 - m) * (kept[i] as number) + m * v;
  });
}

async function predictNoise(model: SdModel, sample: FloatTensor, t: number, embeddings: FloatTensor, lcmGuidance?: number): Promise<FloatTensor> {
  const timestep = model.unet.input('timestep');
  const cond = model.unet.input('timestep_cond');
  // A 0-d timestep (newer optimum exports) or one per batch row; diffusers' graphs broadcast either way.
  const dims = timestep && timestep.shape.length === 0 ? [] : [sample.dims[0] as number];
  const timesteps = new Float32Array(dims.length === 0 ? 1 : (dims[0] as number)).fill(t);
  return firstOutput(
    model.unet.run({
      sample: { kind: 'float', dims: sample.dims, data: sample.data },
      timestep: { kind: 'float', dims, data: timesteps },
      encoder_hidden_states: { kind: 'float', dims: embeddings.dims, data: embeddings.data },
      ...(cond && lcmGuidance !== undefined
        ? { timestep_cond: guidanceEmbedding(lcmGuidance, typeof cond.shape[1] === 'number' ? cond.shape[1] : 256, sample.dims[0] as number) }
        : {}),
    }),
  );
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

/** noise = uncond + scale · (text − uncond), for a batch laid out [uncond; text]. */
function applyGuidance(noise: Float32Array, scale: number): Float32Array {
  const half = noise.length / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const uncond = noise[i] as number;
    out[i] = uncond + scale * ((noise[half + i] as number) - uncond);
  }
  return out;
}

/** Concatenates batch-1 tensors along the channel axis. */
function concatChannels(parts: FloatTensor[]): FloatTensor {
  const [, , h, w] = parts[0]!.dims as [number, number, number, number];
  const channels = parts.reduce((n, p) => n + (p.dims[1] as number), 0);
  const data = new Float32Array(channels * h * w);
  let offset = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.data.length;
  }
  return floatTensor([1, channels, h, w], data);
}

async function firstOutput(pending: Promise<Record<string, FloatTensor>>): Promise<FloatTensor> {
  const outputs = await pending;
  const first = Object.values(outputs)[0];
  if (!first) throw new Error('the model returned no output');
  return first;
}
