// The small JSON/text files of a diffusers ONNX folder: model_index.json, the scheduler config (as SD 1.5 and
// SD 2.1 ship them, or the config folder's), and the tokenizer files copied from a config folder (the bundled
// vocabulary for checkpoints without one is bundled-tokenizer.ts).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Family } from './checkpoint-keys.js';
import type { Precision } from './graph-builder.js';

export type PredictionType = 'epsilon' | 'v_prediction';

/** runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json (PNDM, ε). */
const SD15_SCHEDULER = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

/** stabilityai/stable-diffusion-2-1 scheduler/scheduler_config.json (DDIM, v-prediction). */
const SD21_SCHEDULER = {
  _class_name: 'DDIMScheduler',
  _diffusers_version: '0.8.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: 'v_prediction',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

/** The scheduler config to ship when no config folder provides one. */
export function defaultSchedulerConfig(family: Family, prediction: PredictionType): Record<string, unknown> {
  if (prediction === 'v_prediction') return { ...SD21_SCHEDULER };
  return family === 'sd1' ? { ...SD15_SCHEDULER } : { ...SD15_SCHEDULER, prediction_type: 'epsilon' };
}

/** The family default: SD 2.x text-to-image checkpoints are the 768-px v models (2.0-v, 2.1); the rest predict ε. */
export function defaultPrediction(family: Family, inpainting: boolean): PredictionType {
  return family === 'sd2' && !inpainting ? 'v_prediction' : 'epsilon';
}

/** A scheduler config's prediction type (diffusers' default is ε). */
export function schedulerPrediction(config: Record<string, unknown>): PredictionType {
  const value = config.prediction_type ?? 'epsilon';
  if (value !== 'epsilon' && value !== 'v_prediction') {
    throw new Error(`scheduler prediction_type "${String(value)}" is not supported (epsilon or v_prediction)`);
  }
  return value;
}

/**
 * The LDM yaml next to a checkpoint (A1111's convention: `model.yaml` beside `model.safetensors`) says
 * `parameterization: "v"` for v-prediction models; undefined when there is no yaml.
 */
export function yamlPrediction(checkpointPath: string): PredictionType | undefined {
  const yaml = checkpointPath.replace(/\.[^./\\]+$/, '') + '.yaml';
  if (!existsSync(yaml)) return undefined;
  return /^\s*parameterization:\s*["']?v["']?\s*(#.*)?$/m.test(readFileSync(yaml, 'utf8')) ? 'v_prediction' : 'epsilon';
}

/** Where model_index.json records the networks' precision (diffusers ignores keys starting with "_"). */
export const PRECISION_KEY = '_easel_precision';

/** The precision a parsed model_index.json records; undefined for folders Easel did not convert. */
export function recordedPrecision(index: Record<string, unknown>): Precision | undefined {
  const value = index[PRECISION_KEY];
  return value === 'fp32' || value === 'fp16' ? value : undefined;
}

export function modelIndex(schedulerClass: string, inpainting: boolean, name: string, precision: Precision = 'fp32'): Record<string, unknown> {
  return {
    _class_name: inpainting ? 'OnnxStableDiffusionInpaintPipeline' : 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.24.0',
    _name_or_path: name,
    [PRECISION_KEY]: precision,
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', schedulerClass],
    text_encoder: ['diffusers', 'OnnxRuntimeModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'OnnxRuntimeModel'],
    vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
    vae_encoder: ['diffusers', 'OnnxRuntimeModel'],
  };
}

const TOKENIZER_REQUIRED = ['vocab.json', 'merges.txt'];

/** The first of `dirs` holding a usable CLIP tokenizer folder, or undefined. */
export function findTokenizer(dirs: readonly (string | undefined)[]): string | undefined {
  for (const dir of dirs) {
    if (!dir) continue;
    const folder = join(dir, 'tokenizer');
    if (TOKENIZER_REQUIRED.every((f) => existsSync(join(folder, f)))) return folder;
  }
  return undefined;
}

export function missingTokenizerMessage(family: Family, searched: readonly string[]): string {
  const which =
    family === 'sd1'
      ? 'the SD 1.x CLIP tokenizer (openai/clip-vit-large-patch14: vocab.json, merges.txt, special_tokens_map.json, ' +
        'tokenizer_config.json; pad token <|endoftext|>)'
      : 'the SD 2.x CLIP tokenizer (stabilityai/stable-diffusion-2-1 tokenizer/: vocab.json, merges.txt, ' +
        'special_tokens_map.json, tokenizer_config.json; pad token "!")';
  const where = searched.length > 0 ? ` No tokenizer/ folder with vocab.json and merges.txt in: ${searched.join(', ')}.` : '';
  return (
    `A single-file checkpoint carries no tokenizer, and Easel's own CLIP vocabulary (models/tokenizers/clip) is missing ` +
    `from this install: the converted model needs ${which}.` +
    `${where} Pass configDir (CLI: --config): a folder with a tokenizer/ subfolder (for example a diffusers folder of the same model family).`
  );
}

/** Copies every file of a tokenizer folder. */
export async function copyTokenizer(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isFile()) await copyFile(join(from, entry.name), join(to, entry.name));
  }
}

/** The tokenizer's pad token ("!" for SD 2.x, <|endoftext|> for SD 1.x), when special_tokens_map.json says. */
export function tokenizerPad(folder: string): string | undefined {
  const path = join(folder, 'special_tokens_map.json');
  if (!existsSync(path)) return undefined;
  const pad = (JSON.parse(readFileSync(path, 'utf8')) as { pad_token?: string | { content?: string } }).pad_token;
  return typeof pad === 'string' ? pad : pad?.content;
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
