// Imports a Stable Diffusion 1.x/2.x checkpoint — one original-layout .safetensors file, or a diffusers folder of
// safetensors — into the diffusers ONNX layout Easel runs: model_index.json, scheduler/, tokenizer/, text_encoder/,
// unet/ (+ weights.pb), vae_decoder/, vae_encoder/. No Python: the graphs are built by our own ONNX writer and the
// weights are streamed from the checkpoint one tensor at a time (float16/bfloat16 → float32, or float16 for
// `precision: 'fp16'`).
import { existsSync, openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { hasBundledTokenizer, writeBundledTokenizer } from './bundled-tokenizer.js';
import { buildClipTextEncoder } from './clip-text-encoder.js';
import { detectCheckpoint } from './checkpoint-keys.js';
import type { CheckpointInfo, Family } from './checkpoint-keys.js';
import { PRECISIONS, type Precision, type WeightSource } from './graph-builder.js';
import { tensorByteLength, writeModel } from './onnx-proto.js';
import type { ModelDef, WrittenModel } from './onnx-proto.js';
import {
  copyTokenizer,
  defaultPrediction,
  defaultSchedulerConfig,
  findTokenizer,
  missingTokenizerMessage,
  modelIndex,
  schedulerPrediction,
  tokenizerPad,
  writeJson,
  yamlPrediction,
} from './pipeline-files.js';
import type { PredictionType } from './pipeline-files.js';
import { SafetensorsFile } from './safetensors.js';
import { UnsupportedModelError, builtinConfig, configFolderComponents, readDiffusersConfig, readJson } from './sd-config.js';
import type { SdConfig } from './sd-config.js';
import { buildUnet } from './unet.js';
import { buildVaeDecoder, buildVaeEncoder } from './vae.js';
import { checkpointWeights, diffusersFolderWeights } from './weight-source.js';
import type { MappedWeights, WeightSet } from './weight-source.js';

export { UnsupportedModelError } from './sd-config.js';
export type { PredictionType } from './pipeline-files.js';

export interface ImportProgress {
  /** 'text_encoder' | 'unet' | 'vae_decoder' | 'vae_encoder' | 'files' */
  stage: string;
  /** Tensors written so far in this stage, of `total`. */
  done: number;
  total: number;
}

export interface ImportOptions {
  /** An original-layout .safetensors checkpoint, or a diffusers folder (text_encoder/, unet/, vae/, …). */
  source: string;
  /** The folder to create (it must not exist yet, unless `overwrite`). */
  outDir: string;
  /** A diffusers folder with config.json per component (+ scheduler/, tokenizer/): the architecture to build. */
  configDir?: string;
  /** Recorded as model_index.json `_name_or_path`; defaults to the source's base name. */
  name?: string;
  /** Overrides every other clue (config folder scheduler, `v_pred` key, LDM yaml, family default). */
  predictionType?: PredictionType;
  /** The VAE encoder's output: the posterior mean (default, deterministic) or a sample as diffusers' export. */
  vaeEncoderOutput?: 'mean' | 'sample';
  /**
   * Attention as onnxruntime's fused com.microsoft.MultiHeadAttention (default): on SD 1.5 at 512² it runs a step as
   * fast as plain MatMul/Softmax with about 40 % less peak memory (docs/BENCHMARKS.md). false writes plain ONNX, which
   * runtimes other than onnxruntime can read.
   */
  fusedAttention?: boolean;
  /**
   * 'fp32' (default) or 'fp16': float16 weights and compute for GPUs, half the size; inputs and outputs stay
   * float32 and the precision-sensitive parts float32 (nn-layers.ts). CPUs run fp32 faster.
   */
  precision?: Precision;
  overwrite?: boolean;
  /** Where the bundled CLIP vocabulary lives (default models/tokenizers/clip); tests point it elsewhere. */
  bundledTokenizerDir?: string;
  onProgress?(p: ImportProgress): void;
}

export interface ImportResult {
  outDir: string;
  family: Family;
  /** "SD 1.x", "SD 2.x inpainting", … */
  description: string;
  inpainting: boolean;
  predictionType: PredictionType;
  precision: Precision;
  /** Where each network's architecture came from. */
  configSources: Record<'textEncoder' | 'unet' | 'vae', ConfigSource>;
  /** `copied` from the config folder or diffusers source; `bundled`: Easel's CLIP vocabulary for the family. */
  tokenizerSource: 'copied' | 'bundled';
  components: Record<string, WrittenModel>;
  warnings: string[];
}

export type ConfigSource = 'config-folder' | 'builtin-sd15' | 'builtin-sd21';
type Stage = 'text_encoder' | 'unet' | 'vae_decoder' | 'vae_encoder';

/** Components over this size keep their weights in weights.pb (protobuf messages must stay under 2 GiB). */
const INLINE_LIMIT_BYTES = 2 ** 31 - 64 * 2 ** 20;
const PICKLE_EXTENSIONS = new Set(['.ckpt', '.pt', '.pth', '.bin', '.pkl', '.pickle']);

export async function importCheckpoint(opts: ImportOptions): Promise<ImportResult> {
  const source = resolve(opts.source);
  if (!existsSync(source)) throw new Error(`source not found: ${source}`);
  const isFolder = statSync(source).isDirectory();
  if (!isFolder) refusePickle(source);

  const warnings: string[] = [];
  const configDir = opts.configDir ? resolve(opts.configDir) : isFolder ? source : undefined;
  if (configDir) refuseUnsupportedFolder(configDir);

  // Weights and architecture.
  let info: CheckpointInfo;
  let config: SdConfig;
  let configSources: ImportResult['configSources'];
  let weights: WeightSet;
  if (isFolder) {
    config = readDiffusersConfig(source);
    configSources = { textEncoder: 'config-folder', unet: 'config-folder', vae: 'config-folder' };
    const family: Family = config.textEncoder.act === 'gelu' ? 'sd2' : 'sd1';
    const inpainting = config.unet.inChannels === 9;
    info = { family, inpainting, unetInChannels: config.unet.inChannels, vPredictionMarker: false, description: describe(family, inpainting) };
    weights = diffusersFolderWeights(source);
  } else {
    const file = SafetensorsFile.open(source);
    try {
      info = detectCheckpoint(file.names(), (n) => (file.has(n) ? file.entry(n).shape : undefined));
      // The config folder's config.json files where present, the family's built-in architecture otherwise.
      const builtin: ConfigSource = info.family === 'sd1' ? 'builtin-sd15' : 'builtin-sd21';
      const fallback = builtinConfig(info.family === 'sd1' ? 'sd15' : 'sd21');
      fallback.unet.inChannels = info.unetInChannels;
      const own = configDir ? configFolderComponents(configDir) : { textEncoder: false, unet: false, vae: false };
      config = configDir ? readDiffusersConfig(configDir, fallback) : fallback;
      configSources = {
        textEncoder: own.textEncoder ? 'config-folder' : builtin,
        unet: own.unet ? 'config-folder' : builtin,
        vae: own.vae ? 'config-folder' : builtin,
      };
      if (config.unet.inChannels !== info.unetInChannels) {
        throw new Error(`${configDir}/unet/config.json has in_channels ${config.unet.inChannels}, the checkpoint's UNet takes ${info.unetInChannels}`);
      }
      weights = checkpointWeights(file, info, {
        unetLayersPerBlock: config.unet.layersPerBlock,
        vaeLevels: config.vae.blockOutChannels.length,
      });
    } catch (err) {
      file.close();
      throw err;
    }
  }

  try {
    // Everything that can be refused is checked before gigabytes get written.
    // A config folder's (or diffusers source's) own tokenizer wins; a single file gets the bundled CLIP vocabulary.
    const tokenizer = findTokenizer([configDir, isFolder ? source : undefined]);
    const bundled = !tokenizer && hasBundledTokenizer(opts.bundledTokenizerDir);
    if (!tokenizer && !bundled) throw new Error(missingTokenizerMessage(info.family, [configDir].filter((d): d is string => !!d)));
    const pad = tokenizer ? tokenizerPad(tokenizer) : undefined;
    if (pad !== undefined && (pad === '!') !== (info.family === 'sd2')) {
      warnings.push(`the tokenizer pads with "${pad}", unusual for ${info.description} (SD 2.x pads with "!", SD 1.x with <|endoftext|>)`);
    }
    const { scheduler, prediction } = chooseScheduler(opts, info, configDir, isFolder ? undefined : source);

    const outDir = resolve(opts.outDir);
    if (existsSync(outDir) && readdirSync(outDir).length > 0 && !opts.overwrite) {
      throw new Error(`${outDir} already exists and is not empty (pass overwrite to replace it)`);
    }
    // Written beside the destination and renamed at the end, so a failed import leaves no half model behind.
    const work = join(dirname(outDir), `.${basename(outDir)}.importing-${process.pid}`);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    try {
      const hintFor = (what: keyof ImportResult['configSources']) => {
        const from = configSources[what];
        if (from === 'config-folder') return '';
        return ` (built with the ${from === 'builtin-sd15' ? 'SD 1.5' : 'SD 2.1'} architecture; pass configDir with the model's ` +
          'diffusers config.json files if it differs)';
      };
      // All four graphs are built (and checked against the weights) before anything is written; their weights
      // stay lazy until the writer reaches them.
      const build = (stage: Stage, source: MappedWeights, make: (w: WeightSource) => ModelDef) => {
        const tracked = trackUse(source);
        try {
          return { stage, model: make(tracked), used: tracked.used };
        } catch (err) {
          const message = (err as Error).message;
          const hint = hintFor(stage === 'text_encoder' ? 'textEncoder' : stage === 'unet' ? 'unet' : 'vae');
          throw new Error(`${message.startsWith(`${stage}:`) ? '' : `${stage}: `}${message}${hint}`, { cause: err });
        }
      };
      const fusedAttention = opts.fusedAttention ?? true;
      const precision = opts.precision ?? 'fp32';
      if (!PRECISIONS.includes(precision)) throw new Error(`precision must be ${PRECISIONS.join(' or ')}, got "${String(precision)}"`);
      const built = [
        build('text_encoder', weights.textEncoder, (w) => buildClipTextEncoder(config.textEncoder, { weights: w, fusedAttention, precision })),
        build('unet', weights.unet, (w) => buildUnet(config.unet, { weights: w, fusedAttention, precision })),
        build('vae_decoder', weights.vae, (w) => buildVaeDecoder(config.vae, { weights: w, fusedAttention, precision })),
        build('vae_encoder', weights.vae, (w) =>
          buildVaeEncoder(config.vae, { weights: w, encoderOutput: opts.vaeEncoderOutput, fusedAttention, precision }),
        ),
      ];
      const textLayers = config.textEncoder.layers - (config.textEncoder.penultimate ? 1 : 0);
      const unusedText = unused(weights.textEncoder, built[0].used).filter((n) => !isSkippedTextWeight(n, textLayers));
      if (unusedText.length > 0) warnings.push(`text encoder weights not used: ${preview(unusedText)}`);
      failOnUnused('unet', unused(weights.unet, built[1].used), hintFor('unet'));
      failOnUnused('vae', unused(weights.vae, new Set([...built[2].used, ...built[3].used])), hintFor('vae'));

      const components: Record<string, WrittenModel> = {};
      for (const { stage, model } of built) {
        await mkdir(join(work, stage), { recursive: true });
        // The UNet always keeps its weights in weights.pb, as diffusers' exporter does.
        const external = stage === 'unet' || totalBytes(model) > INLINE_LIMIT_BYTES;
        components[stage] = await writeModel(join(work, stage, 'model.onnx'), withProgress(model, stage, opts.onProgress), {
          externalDataFile: external ? 'weights.pb' : undefined,
        });
      }

      opts.onProgress?.({ stage: 'files', done: 0, total: 1 });
      if (tokenizer) await copyTokenizer(tokenizer, join(work, 'tokenizer'));
      else await writeBundledTokenizer(info.family, join(work, 'tokenizer'), opts.bundledTokenizerDir);
      await mkdir(join(work, 'scheduler'), { recursive: true });
      await writeJson(join(work, 'scheduler', 'scheduler_config.json'), scheduler);
      const name = opts.name ?? basename(source, extname(source));
      await writeJson(join(work, 'model_index.json'), modelIndex(String(scheduler._class_name), info.inpainting, name, precision));
      opts.onProgress?.({ stage: 'files', done: 1, total: 1 });

      if (existsSync(outDir)) await rm(outDir, { recursive: true, force: true });
      await rename(work, outDir);
      return {
        outDir,
        family: info.family,
        description: info.description,
        inpainting: info.inpainting,
        predictionType: prediction,
        precision,
        configSources,
        tokenizerSource: tokenizer ? 'copied' : 'bundled',
        components,
        warnings,
      };
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      throw err;
    }
  } finally {
    weights.close();
  }
}

function describe(family: Family, inpainting: boolean): string {
  return `${family === 'sd1' ? 'SD 1.x' : 'SD 2.x'}${inpainting ? ' inpainting' : ''}`;
}

/** Pickle checkpoints can run arbitrary code when unpickled, and reading them needs PyTorch. */
export function refusePickle(path: string): void {
  const ext = extname(path).toLowerCase();
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  const zip = head[0] === 0x50 && head[1] === 0x4b; // torch.save's zip container
  const pickle = head[0] === 0x80 && head[1] >= 2 && head[1] <= 5; // a bare pickle stream
  if (!PICKLE_EXTENSIONS.has(ext) && !zip && !pickle) return;
  throw new UnsupportedModelError(
    `${basename(path)} is a PyTorch pickle checkpoint (${ext || 'pickle content'}). Easel reads only .safetensors: ` +
      'unpickling can execute arbitrary code hidden in the file, and it needs PyTorch. Download the .safetensors ' +
      'version of the model if one is offered, or convert it once with Python: `python -c "import torch, ' +
      "safetensors.torch as st; sd = torch.load('model.ckpt', map_location='cpu', weights_only=True); " +
      "sd = sd.get('state_dict', sd); st.save_file({k: v.contiguous() for k, v in sd.items() if " +
      "isinstance(v, torch.Tensor)}, 'model.safetensors')\"` (weights_only=True refuses code in the pickle).",
  );
}

/** SDXL and other diffusers pipelines are recognisable from their folder before any weight is read. */
function refuseUnsupportedFolder(dir: string): void {
  const indexPath = join(dir, 'model_index.json');
  const pipeline = existsSync(indexPath) ? String(readJson(indexPath)._class_name ?? '') : '';
  if (/XL|StableDiffusion3|Flux|Kandinsky|Cascade|Wuerstchen|PixArt|Video/i.test(pipeline) || existsSync(join(dir, 'text_encoder_2'))) {
    throw new UnsupportedModelError(`${dir} is a ${pipeline || 'two-text-encoder (SDXL-like)'} model: not supported yet (SD 1.x/2.x only)`);
  }
}

function chooseScheduler(
  opts: ImportOptions,
  info: CheckpointInfo,
  configDir: string | undefined,
  checkpoint: string | undefined,
): { scheduler: Record<string, unknown>; prediction: PredictionType } {
  const schedulerPath = configDir ? join(configDir, 'scheduler', 'scheduler_config.json') : undefined;
  const folderScheduler = schedulerPath && existsSync(schedulerPath) ? readJson(schedulerPath) : undefined;
  const prediction =
    opts.predictionType ??
    (folderScheduler ? schedulerPrediction(folderScheduler) : undefined) ??
    (info.vPredictionMarker ? 'v_prediction' : undefined) ??
    (checkpoint ? yamlPrediction(checkpoint) : undefined) ??
    defaultPrediction(info.family, info.inpainting);
  if (folderScheduler) {
    const scheduler = { ...folderScheduler };
    if (schedulerPrediction(scheduler) !== prediction) scheduler.prediction_type = prediction;
    return { scheduler, prediction };
  }
  return { scheduler: defaultSchedulerConfig(info.family, prediction), prediction };
}

/** Wraps a weight source to record which parameters the graph asked for. */
function trackUse(source: WeightSource): WeightSource & { used: Set<string> } {
  const used = new Set<string>();
  return {
    used,
    shape: (name) => {
      used.add(name);
      return source.shape(name);
    },
    read: (name) => source.read(name),
  };
}

function unused(source: MappedWeights, used: ReadonlySet<string>): string[] {
  return source.names().filter((n) => !used.has(n));
}

/** SD 2.x checkpoints carry the last OpenCLIP block, which the penultimate-layer text encoder drops. */
function isSkippedTextWeight(name: string, usedLayers: number): boolean {
  if (name.endsWith('position_ids')) return true;
  const m = /^text_model\.encoder\.layers\.(\d+)\./.exec(name);
  return m !== null && Number(m[1]) >= usedLayers;
}

function failOnUnused(component: string, names: string[], hint: string): void {
  if (names.length === 0) return;
  throw new Error(
    `${component}: ${names.length} checkpoint weights have no place in the architecture (${preview(names)}): ` +
      `the configuration does not match the checkpoint${hint}`,
  );
}

function preview(names: string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

function totalBytes(model: ModelDef): number {
  return model.graph.initializers.reduce((n, t) => n + tensorByteLength(t), 0);
}

/** Reports progress as each lazy initializer is loaded for writing. */
function withProgress(model: ModelDef, stage: string, onProgress: ImportOptions['onProgress']): ModelDef {
  if (!onProgress) return model;
  const total = model.graph.initializers.filter((t) => typeof t.data === 'function').length;
  let done = 0;
  onProgress({ stage, done, total });
  const initializers = model.graph.initializers.map((t) => {
    const load = t.data;
    if (typeof load !== 'function') return t;
    return {
      ...t,
      data: () => {
        const values = load();
        onProgress({ stage, done: ++done, total });
        return values;
      },
    };
  });
  return { ...model, graph: { ...model.graph, initializers } };
}
