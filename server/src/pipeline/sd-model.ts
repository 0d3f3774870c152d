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
}

const DEFAULT_VAE_SCALING = 0.18215;

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

export async function loadSdModel(id: string, dir: string, options: SessionOptions = {}): Promise<SdModel> {
  const tokenizer = await ClipTokenizer.fromDirectory(join(dir, 'tokenizer'));
  const schedulerConfig = await readJson(join(dir, 'scheduler', 'scheduler_config.json')).catch(() => ({}));
  // Optimum exports carry the VAE config beside the decoder; the diffusers script does not (it uses 0.18215).
  const vaeConfig = (await readJson(join(dir, 'vae_decoder', 'config.json')).catch(() => ({}))) as {
    scaling_factor?: number;
  };
  const textEncoder = await OnnxModel.load(join(dir, 'text_encoder', 'model.onnx'), options);
  const unet = await OnnxModel.load(join(dir, 'unet', 'model.onnx'), options);
  const vaeDecoder = await OnnxModel.load(join(dir, 'vae_decoder', 'model.onnx'), options);
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
  const channels = unet.input('sample')?.shape[1];
  return {
    id,
    dir,
    tokenizer,
    textEncoder,
    unet,
    vaeDecoder,
    schedulerConfig,
    vaeScalingFactor: typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : DEFAULT_VAE_SCALING,
    latentChannels: typeof channels === 'number' ? channels : 4,
  };
}

/** Total time and calls inside onnxruntime for this model's networks so far. */
export function onnxStats(model: SdModel): { ms: number; runs: number } {
  const nets = [model.textEncoder, model.unet, model.vaeDecoder, model.vaeEncoder].filter((n) => n !== undefined);
  return { ms: nets.reduce((t, n) => t + n.stats.ms, 0), runs: nets.reduce((t, n) => t + n.stats.runs, 0) };
}

export async function vaeEncoderOf(model: SdModel, options: SessionOptions = {}): Promise<OnnxModel> {
  model.vaeEncoder ??= await OnnxModel.load(join(model.dir, 'vae_encoder', 'model.onnx'), options);
  return model.vaeEncoder;
}

export async function releaseSdModel(model: SdModel): Promise<void> {
  await Promise.all([model.textEncoder.release(), model.unet.release(), model.vaeDecoder.release(), model.vaeEncoder?.release()]);
}
