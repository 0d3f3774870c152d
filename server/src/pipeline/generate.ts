// Images from a prompt — text to image, image to image, or inpainting — as one readable numbered loop.
// Progress, previews and cancellation hang off one step callback. Random draws happen in diffusers' order, so
// a seed gives the picture diffusers (and A1111 with the CPU generator) gives. Several images of a job run in
// lockstep, each with its own generator, scheduler and latents; only the UNet call is shared (unet-batch.ts), so
// each image is the one it would be alone.
import { tensorToRgb, type RgbImage } from '../images/encode.js';
import { encodePrompt, encodePromptPair } from './encode-prompt.js';
import { maskedImageTensor, maskToLatent, rgbToTensor, type GrayImage } from './init-image.js';
import { TorchGenerator } from './rng.js';
import { parseSchedulerConfig } from './schedulers/scheduler.js';
import { createScheduler } from './schedulers/samplers.js';
import { endStage, vaeEncoderOf, type SdModel } from './sd-model.js';
import { catBatch, floatTensor, type FloatTensor } from './tensor.js';
import { firstOutput, predictNoiseBatch, type PromptEmbeddings } from './unet-batch.js';
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
  /** 1-based count of UNet calls done, and how many each image will make. */
  step: number;
  totalSteps: number;
  /** The predicted clean latents [4, h, w] of each image after this step, in seed order: what previews show. */
  predOriginals: Float32Array[];
  latentWidth: number;
  latentHeight: number;
}

export interface GenerateHooks {
  /** Called once a step, for all the images together. */
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

/** One image. Returns undefined only when stopped before the first step finished. */
export async function generate(model: SdModel, p: GenerateParams, hooks: GenerateHooks = {}): Promise<GenerateResult | undefined> {
  return (await generateBatch(model, p, [p.seed], hooks))?.[0];
}

/** Encodes a job's prompt (and its negative, for classifier-free guidance) once, for every batch of the job. */
export async function encodeJobPrompt(model: SdModel, p: Pick<GenerateParams, 'prompt' | 'negativePrompt' | 'cfgScale'>): Promise<PromptEmbeddings> {
  const guided = p.cfgScale > 1 && !embedsGuidance(model);
  const embeddings = guided ? catBatch((await encodePromptPair(model, p.prompt, p.negativePrompt)).reverse()) : await encodePrompt(model, p.prompt);
  await endStage(model, model.textEncoder);
  return { embeddings, guided };
}

/**
 * One image per seed, made together: image k equals generate() with seeds[k]. `prompt` is the job's prompt from
 * encodeJobPrompt (encoded here when not given). Returns undefined only when stopped before the first step
 * finished; stopped later, every image is its best guess so far, marked partial.
 */
export async function generateBatch(
  model: SdModel,
  p: Omit<GenerateParams, 'seed'>,
  seeds: readonly number[],
  hooks: GenerateHooks = {},
  prompt?: PromptEmbeddings,
): Promise<GenerateResult[] | undefined> {
  // 1. Check inputs.
  if (p.width % 8 !== 0 || p.height % 8 !== 0) throw new Error('width and height must be multiples of 8');
  if (seeds.length === 0) throw new Error('no seeds: nothing to generate');
  const latentWidth = p.width / 8;
  const latentHeight = p.height / 8;
  const latentShape = [1, 4, latentHeight, latentWidth];
  const latentSize = 4 * latentHeight * latentWidth;
  const guidanceEmbedded = embedsGuidance(model);
  const inpaintUnet = model.latentChannels === 9;
  if (inpaintUnet && !p.init?.mask) throw new Error('this is an inpainting model: give an initial image and a mask');
  if (p.init && (p.init.image.width !== p.width || p.init.image.height !== p.height)) {
    throw new Error(`the initial image is ${p.init.image.width}x${p.init.image.height}, expected ${p.width}x${p.height}`);
  }

  // 2. Encode the prompt (and the negative prompt for classifier-free guidance: [negative; positive]).
  const encoded = prompt ?? (await encodeJobPrompt(model, p));

  // 3. Timesteps, one scheduler per image (multistep samplers keep a history); img2img starts part-way, where
  //    diffusers' get_timesteps puts it.
  const config = parseSchedulerConfig(model.schedulerConfig);
  const schedulers = seeds.map(() => createScheduler(p.sampler, config, p.steps));
  const scheduler = schedulers[0]!;
  const strength = p.init ? p.init.strength : 1;
  const initSteps = Math.min(Math.floor(p.steps * strength), p.steps);
  if (initSteps < 1) throw new Error(`strength ${strength} with ${p.steps} steps runs no step: raise either so that steps × strength ≥ 1`);
  const startIndex = (p.steps - initSteps) * scheduler.order;
  const totalSteps = scheduler.timesteps.length - startIndex;

  // 4. Initial latents, each image drawing from its own CPU generator in diffusers' order: VAE posterior, then
  //    the noise (then the masked picture's posterior). The encoder sees the same picture for every image: once.
  const initMoments = p.init ? await encodeMoments(model, rgbToTensor(p.init.image), latentShape) : undefined;
  const maskedMoments =
    inpaintUnet && p.init?.mask ? await encodeMoments(model, maskedImageTensor(rgbToTensor(p.init.image), p.init.mask), latentShape) : undefined;
  await endStage(model, model.vaeEncoder);
  const mask = p.init?.mask ? maskToLatent(p.init.mask, latentWidth, latentHeight) : undefined;
  const images = seeds.map((seed, k) => {
    const rng = new TorchGenerator(seed);
    const own = schedulers[k]!;
    const imageLatents = initMoments && samplePosterior(initMoments, rng, model.vaeScalingFactor);
    const noise = rng.randn(latentSize);
    const latents =
      !imageLatents || (p.init?.mask && strength >= 1) ? noise.map((v) => v * own.initNoiseSigma) : own.addNoise(imageLatents, noise, startIndex);
    const maskedLatents = maskedMoments && samplePosterior(maskedMoments, rng, model.vaeScalingFactor);
    return { rng, scheduler: own, imageLatents, noise, maskedLatents, latents, predOriginal: undefined as Float32Array | undefined };
  });

  // 5. Denoise: one UNet call a step for all the images, then each image's own scheduler step. A stop asked for
  //    during the last step's callback comes too late to matter: every step has run.
  let finished = true;
  for (let i = startIndex; i < scheduler.timesteps.length; i++) {
    if (hooks.shouldStop?.()) {
      finished = false;
      break;
    }
    const t = scheduler.timesteps[i] as number;
    const inputs = images.map(({ scheduler: own, latents, maskedLatents }) => {
      const scaled = floatTensor(latentShape, own.scaleModelInput(latents, i));
      return mask && maskedLatents ? concatChannels([scaled, floatTensor([1, 1, latentHeight, latentWidth], mask), floatTensor(latentShape, maskedLatents)]) : scaled;
    });
    const noise = await predictNoiseBatch(model, inputs, t, encoded, p.cfgScale, guidanceEmbedded ? p.cfgScale : undefined);
    images.forEach((image, k) => {
      const step = image.scheduler.step(noise[k]!, i, image.latents, image.rng);
      image.latents = step.prevSample;
      image.predOriginal = step.predOriginal;
      if (mask && image.imageLatents && !inpaintUnet) image.latents = blendKeptArea(image.scheduler, image.latents, image.imageLatents, image.noise, mask, i);
    });
    await hooks.onStep?.({ step: i - startIndex + 1, totalSteps, predOriginals: images.map((image) => image.predOriginal!), latentWidth, latentHeight });
  }
  await endStage(model, model.unet);
  if (!finished && !images[0]!.predOriginal) return undefined;

  // 6. Decode each image: its final latents, or its best guess so far when stopped early.
  const results: GenerateResult[] = [];
  for (const image of images) {
    const latents = finished ? image.latents : (image.predOriginal as Float32Array);
    assertFinite(latents, 'the UNet');
    const decoded = await decodeLatents(model.vaeDecoder, latents.map((v) => v / model.vaeScalingFactor), latentWidth, latentHeight);
    assertFinite(decoded, 'the VAE decoder');
    results.push({ image: tensorToRgb(decoded, p.width, p.height), latents, partial: !finished });
  }
  await endStage(model, model.vaeDecoder);
  return results;
}

/**
 * NaN or infinity out of a network would silently save a black picture. fp16 networks overflow where fp32 ones do
 * not (A1111 users know it as the "black image" that --no-half-vae cures), so say what to do instead.
 */
function assertFinite(values: Float32Array, network: string): void {
  for (const v of values) {
    if (!Number.isFinite(v)) {
      throw new Error(`${network} returned ${v} (not a number): with an fp16 model this is float16 overflowing; re-import the model as fp32`);
    }
  }
}

/** LCM-distilled UNets take the guidance scale as an embedding (timestep_cond) and run without a negative pass. */
function embedsGuidance(model: SdModel): boolean {
  return model.unet.input('timestep_cond') !== undefined;
}

/**
 * Runs the VAE encoder on a [-1, 1] image. An encoder that returns mean ‖ log-variance (optimum exports) is
 * sampled by samplePosterior; one that samples inside its graph (diffusers' export) returns the latent directly.
 */
async function encodeMoments(model: SdModel, image: Float32Array, latentShape: number[]): Promise<FloatTensor> {
  const encoder = await vaeEncoderOf(model);
  const [, , h, w] = latentShape as [number, number, number, number];
  return firstOutput(encoder.run({ sample: { kind: 'float', dims: [1, 3, h * 8, w * 8], data: image } }));
}

/**
 * Scaled latents from the encoder's output. diffusers samples the posterior with one draw from the generator;
 * the draw is made whatever the encoder returned, so later draws line up.
 */
function samplePosterior(out: FloatTensor, rng: TorchGenerator, scalingFactor: number): Float32Array {
  const [, channels, h, w] = out.dims as [number, number, number, number];
  const size = 4 * h * w;
  const eps = rng.randn(size);
  const latent = new Float32Array(size);
  const moments = channels === 8;
  for (let i = 0; i < size; i++) {
    const mean = out.data[i] as number;
    latent[i] = (moments ? mean + Math.exp(0.5 * Math.max(-30, Math.min(20, out.data[size + i] as number))) * (eps[i] as number) : mean) * scalingFactor;
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
