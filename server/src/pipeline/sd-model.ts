// A Stable Diffusion model folder (diffusers ONNX layout) loaded for inference: tokenizer, the three networks
// the txt2img loop needs, the scheduler config and the VAE scaling factor.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OnnxModel, type SessionOptions } from './onnx/onnx-session.js';
import { ClipTokenizer } from './tokenizer/clip-tokenizer.js';

export interface SdModel {
  id: string;
  dir: string;
  tokenizer: ClipTokenizer;
  textEncoder: OnnxModel;
  unet: OnnxModel;
  vaeDecoder: OnnxModel;
  /** Loaded on first use: only img2img and inpainting need it. */
  vaeEncoder?: OnnxModel;
  schedulerConfig: unknown;
  /** Latents are divided by this before the VAE decoder (0.18215 for SD 1.x/2.x). */
  vaeScalingFactor: number;
  latentChannels: number;
  /**
   * Low-memory mode (as the optimizedSD scripts): each network is loaded when its stage starts and freed when it
   * ends, so only one is resident at a time, and onnxruntime's arena is off so freed buffers go back to the system.
   */
  lowMemory: boolean;
  /** What the networks were loaded with; the VAE encoder, loaded later, gets the same. */
  sessionOptions: SessionOptions;
}

export interface SdLoadOptions extends SessionOptions {
  lowMemory?: boolean;
}

const DEFAULT_VAE_SCALING = 0.18215;

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

export async function loadSdModel(id: string, dir: string, loadOptions: SdLoadOptions = {}): Promise<SdModel> {
  const { lowMemory = false, ...sessionOptions } = loadOptions;
  const options: SessionOptions = lowMemory ? { ...sessionOptions, memArena: false } : sessionOptions;
  // Loaded once either way, to read and check their inputs; low-memory mode frees each before the next loads.
  const load = async (component: string) => {
    const net = await OnnxModel.load(join(dir, component, 'model.onnx'), options);
    if (lowMemory) await net.unload();
    return net;
  };
  const tokenizer = await ClipTokenizer.fromDirectory(join(dir, 'tokenizer'));
  const schedulerConfig = await readJson(join(dir, 'scheduler', 'scheduler_config.json')).catch(() => ({}));
  // Optimum exports carry the VAE config beside the decoder; the diffusers script does not (it uses 0.18215).
  const vaeConfig = (await readJson(join(dir, 'vae_decoder', 'config.json')).catch(() => ({}))) as {
    scaling_factor?: number;
  };
  const textEncoder = await load('text_encoder');
  const unet = await load('unet');
  const vaeDecoder = await load('vae_decoder');
  for (const [model, names] of [
    [textEncoder, ['input_ids']],
    [unet, ['sample', 'timestep', 'encoder_hidden_states']],
    [vaeDecoder, ['latent_sample']],
  ] as const) {
    for (const name of names) {
      if (!model.input(name)) {
        throw new Error(`${model.path} has no input "${name}" (it has ${model.inputs.map((i) => i.name).join(', ')})`);
      }
    }
  }
  const channels = await unetInputChannels(dir, unet.input('sample')?.shape[1]);
  return {
    id,
    dir,
    tokenizer,
    textEncoder,
    unet,
    vaeDecoder,
    schedulerConfig,
    vaeScalingFactor: typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : DEFAULT_VAE_SCALING,
    latentChannels: channels,
    lowMemory,
    sessionOptions: options,
  };
}

/** Total time and calls inside onnxruntime for this model's networks so far. */
export function onnxStats(model: SdModel): { ms: number; runs: number } {
  const nets = [model.textEncoder, model.unet, model.vaeDecoder, model.vaeEncoder].filter((n) => n !== undefined);
  return { ms: nets.reduce((t, n) => t + n.stats.ms, 0), runs: nets.reduce((t, n) => t + n.stats.runs, 0) };
}

/**
 * 4, or 9 for an inpainting UNet. diffusers' exporter leaves the channel axis symbolic, so when the graph does not
 * say, the folder does: an optimum-style unet/config.json, or the inpainting pipeline's name in model_index.json.
 */
async function unetInputChannels(dir: string, declared: number | string | undefined): Promise<number> {
  if (typeof declared === 'number') return declared;
  const config = (await readJson(join(dir, 'unet', 'config.json')).catch(() => ({}))) as { in_channels?: unknown };
  if (typeof config.in_channels === 'number') return config.in_channels;
  const index = (await readJson(join(dir, 'model_index.json')).catch(() => ({}))) as { _class_name?: unknown };
  return typeof index._class_name === 'string' && /inpaint/i.test(index._class_name) ? 9 : 4;
}

export async function vaeEncoderOf(model: SdModel, options: SessionOptions = model.sessionOptions): Promise<OnnxModel> {
  model.vaeEncoder ??= await OnnxModel.load(join(model.dir, 'vae_encoder', 'model.onnx'), options);
  return model.vaeEncoder;
}

/** Low-memory mode: frees networks whose stage is over (they load again when next run). */
export async function endStage(model: SdModel, ...nets: (OnnxModel | undefined)[]): Promise<void> {
  if (model.lowMemory) for (const net of nets) await net?.unload();
}

export async function releaseSdModel(model: SdModel): Promise<void> {
  await Promise.all([model.textEncoder.release(), model.unet.release(), model.vaeDecoder.release(), model.vaeEncoder?.release()]);
}
