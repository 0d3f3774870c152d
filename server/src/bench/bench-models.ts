// The models the benchmarks run: the tiny test model, and SD 1.5-shaped pipelines with seeded random weights from
// the graph builder (same sizes and graph as a converted SD 1.5, so timings and memory are those of the real
// thing). They are written once to a cache folder and reused: the SD 1.5 ones take minutes and 4 GB each.
// An id ending in -fp16 is the same model with float16 weights and compute (import --fp16), for GPU providers.
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildClipTextEncoder } from '../convert/clip-text-encoder.js';
import type { Precision } from '../convert/graph-builder.js';
import { writeModel, type ModelDef, type WriteModelOptions } from '../convert/onnx-proto.js';
import { defaultSchedulerConfig, modelIndex, writeJson } from '../convert/pipeline-files.js';
import { builtinConfig } from '../convert/sd-config.js';
import { writeTinyModel } from '../convert/tiny-model.js';
import { buildUnet } from '../convert/unet.js';
import { buildVaeDecoder, buildVaeEncoder } from '../convert/vae.js';
import { writeTinyTokenizer } from '../pipeline/tokenizer/tiny-vocab.js';

type BaseModelId = 'tiny' | 'sd15' | 'sd15-fused';
export type BenchModelId = BaseModelId | `${BaseModelId}-fp16`;

/** The model's fp16 twin when `precision` is fp16, else the model itself. */
export function withPrecision(id: BenchModelId, precision: Precision | undefined): BenchModelId {
  return precision === 'fp16' && !id.endsWith('-fp16') ? (`${id}-fp16` as BenchModelId) : id;
}

/** Bump when the builder's output changes, so stale caches are rebuilt rather than measured. */
const CACHE_VERSION = 1;

export function defaultCacheDir(): string {
  return process.env.EASEL_BENCH_CACHE ?? join(tmpdir(), 'easel-bench');
}

/** `<cache>/models`, laid out as a model store: `<models>/stable-diffusion/<id>/`. */
export function benchModelsDir(cacheDir: string): string {
  return join(cacheDir, `models-v${CACHE_VERSION}`);
}

export function benchModelDir(cacheDir: string, id: BenchModelId): string {
  return join(benchModelsDir(cacheDir), 'stable-diffusion', id);
}

/** Writes the model unless a finished copy is cached; returns its folder. */
export async function ensureBenchModel(cacheDir: string, id: BenchModelId, log: (line: string) => void = () => {}): Promise<string> {
  const dir = benchModelDir(cacheDir, id);
  const done = join(dir, '.complete');
  if (existsSync(done)) return dir;
  await rm(dir, { recursive: true, force: true });
  const started = performance.now();
  log(`writing bench model ${id} to ${dir}…`);
  const precision: Precision = id.endsWith('-fp16') ? 'fp16' : 'fp32';
  const base = id.replace(/-fp16$/, '') as BaseModelId;
  if (base === 'tiny') await writeTinyModel(dir, { seed: 1, precision });
  else await writeSd15(dir, base === 'sd15-fused', precision);
  await writeFile(done, `${new Date().toISOString()}\n`);
  log(`  done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}

/** SD 1.5's three networks and its VAE encoder with random weights; the tiny tokenizer (the ids fit CLIP's table). */
async function writeSd15(dir: string, fusedAttention: boolean, precision: Precision): Promise<void> {
  const config = builtinConfig('sd15');
  const build = { seed: 15, fusedAttention, precision };
  await mkdir(join(dir, 'tokenizer'), { recursive: true });
  await writeTinyTokenizer(join(dir, 'tokenizer'));
  await component(dir, 'text_encoder', buildClipTextEncoder(config.textEncoder, build));
  // Noise-sized predictions: random SD 1.5 weights otherwise grow the latents step by step to inf.
  await component(dir, 'unet', buildUnet(config.unet, { ...build, randomGains: { convOut: 0.05 } }), { externalDataFile: 'weights.pb' });
  await component(dir, 'vae_decoder', buildVaeDecoder(config.vae, { ...build, randomOutGain: 0.05 }));
  await component(dir, 'vae_encoder', buildVaeEncoder(config.vae, build));
  await mkdir(join(dir, 'scheduler'), { recursive: true });
  await writeJson(join(dir, 'scheduler', 'scheduler_config.json'), defaultSchedulerConfig('sd1', 'epsilon'));
  await writeJson(join(dir, 'model_index.json'), modelIndex('PNDMScheduler', false, 'sd15-random', precision));
}

async function component(dir: string, name: string, model: ModelDef, opts?: WriteModelOptions): Promise<void> {
  await mkdir(join(dir, name), { recursive: true });
  await writeModel(join(dir, name, 'model.onnx'), model, opts);
}

/** Bytes of the weights a pipeline loads for txt2img (text encoder, UNet, VAE decoder). */
export function txt2imgComponents(): string[] {
  return ['text_encoder', 'unet', 'vae_decoder'];
}
