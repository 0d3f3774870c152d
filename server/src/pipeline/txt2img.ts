// Text to image, as one readable numbered loop. Progress, previews and cancellation hang off one step callback.
import type { RgbImage } from '../images/encode.js';
import { tensorToRgb } from '../images/encode.js';
import { TorchGenerator } from './rng.js';
import { parseSchedulerConfig } from './schedulers/scheduler.js';
import { createScheduler } from './schedulers/samplers.js';
import type { SdModel } from './sd-model.js';
import { catBatch, floatTensor, type FloatTensor } from './tensor.js';

export interface Txt2ImgParams {
  prompt: string;
  negativePrompt: string;
  sampler: string;
  steps: number;
  cfgScale: number;
  width: number;
  height: number;
  seed: number;
}

export interface StepInfo {
  /** 1-based count of UNet steps done. */
  step: number;
  totalSteps: number;
  /** The predicted clean latents [4, h, w] after this step: what previews show. */
  predOriginal: Float32Array;
  latentWidth: number;
  latentHeight: number;
}

export interface Txt2ImgHooks {
  onStep?(info: StepInfo): void | Promise<void>;
  /** Checked between steps; true stops the loop and the call returns undefined. */
  shouldStop?(): boolean;
}

export async function txt2img(model: SdModel, p: Txt2ImgParams, hooks: Txt2ImgHooks = {}): Promise<RgbImage | undefined> {
  // 1. Check inputs.
  if (p.width % 8 !== 0 || p.height % 8 !== 0) throw new Error('width and height must be multiples of 8');
  const latentWidth = p.width / 8;
  const latentHeight = p.height / 8;
  const latentShape = [1, model.latentChannels, latentHeight, latentWidth];
  const guided = p.cfgScale > 1;

  // 2. Encode the prompt (and the negative prompt for classifier-free guidance: [negative; positive]).
  const positive = await encodeText(model, p.prompt);
  const embeddings = guided ? catBatch([await encodeText(model, p.negativePrompt), positive]) : positive;

  // 3. Timesteps.
  const scheduler = createScheduler(p.sampler, parseSchedulerConfig(model.schedulerConfig), p.steps);

  // 4. Initial latents: torch.randn on a CPU generator seeded with the image's seed, scaled for the scheduler.
  const rng = new TorchGenerator(p.seed);
  let latents = rng.randn(latentShape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < latents.length; i++) latents[i] = (latents[i] as number) * scheduler.initNoiseSigma;

  // 5. Denoise.
  const totalSteps = scheduler.timesteps.length;
  for (let i = 0; i < totalSteps; i++) {
    if (hooks.shouldStop?.()) return undefined;
    const t = scheduler.timesteps[i] as number;
    const scaled = scheduler.scaleModelInput(latents, i);
    const sample = guided ? catBatch([floatTensor(latentShape, scaled), floatTensor(latentShape, scaled)]) : floatTensor(latentShape, scaled);
    const noise = await predictNoise(model, sample, t, embeddings);
    const guidedNoise = guided ? applyGuidance(noise.data, p.cfgScale) : noise.data;
    const out = scheduler.step(guidedNoise, i, latents, rng);
    latents = out.prevSample;
    await hooks.onStep?.({ step: i + 1, totalSteps, predOriginal: out.predOriginal, latentWidth, latentHeight });
  }
  if (hooks.shouldStop?.()) return undefined;

  // 6. Decode.
  const scaledLatents = latents.map((v) => v / model.vaeScalingFactor);
  const decoded = await firstOutput(model.vaeDecoder.run({ latent_sample: { kind: 'float', dims: latentShape, data: scaledLatents } }));
  return tensorToRgb(decoded.data, p.width, p.height);
}

async function encodeText(model: SdModel, text: string): Promise<FloatTensor> {
  const { ids } = model.tokenizer.tokenize(text);
  const outputs = await model.textEncoder.run({ input_ids: { kind: 'int', dims: [1, ids.length], data: Int32Array.from(ids) } });
  const hidden = outputs.last_hidden_state ?? Object.values(outputs)[0];
  if (!hidden) throw new Error(`${model.textEncoder.path} returned no output`);
  return hidden;
}

async function predictNoise(model: SdModel, sample: FloatTensor, t: number, embeddings: FloatTensor): Promise<FloatTensor> {
  const timestep = model.unet.input('timestep');
  // A 0-d timestep (newer optimum exports) or one per batch row; diffusers' graphs broadcast either way.
  const dims = timestep && timestep.shape.length === 0 ? [] : [sample.dims[0] as number];
  const timesteps = new Float32Array(dims.length === 0 ? 1 : (dims[0] as number)).fill(t);
  return firstOutput(
    model.unet.run({
      sample: { kind: 'float', dims: sample.dims, data: sample.data },
      timestep: { kind: 'float', dims, data: timesteps },
      encoder_hidden_states: { kind: 'float', dims: embeddings.dims, data: embeddings.data },
    }),
  );
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

async function firstOutput(pending: Promise<Record<string, FloatTensor>>): Promise<FloatTensor> {
  const outputs = await pending;
  const first = Object.values(outputs)[0];
  if (!first) throw new Error('the model returned no output');
  return first;
}
