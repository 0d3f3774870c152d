// Child process of the memory benchmark: loads one model, makes one image, and prints its peak resident memory
// as JSON. Peak RSS belongs to a process, so each configuration gets a fresh one.
//   node --import tsx memory-probe.ts '<json MemoryProbeArgs>'
import { join } from 'node:path';
import { OnnxModel } from '../pipeline/onnx/onnx-session.js';
import { TorchGenerator } from '../pipeline/rng.js';
import { loadSdModel, releaseSdModel } from '../pipeline/sd-model.js';
import { DEFAULT_TILING, decodeLatents } from '../pipeline/vae-decode.js';
import { generate } from '../pipeline/generate.js';
import { physicalCores } from '../pipeline/onnx/cpu-cores.js';
import { memoryNow } from './report.js';
import { sessionVariant } from './session-variants.js';

export interface MemoryProbeArgs {
  modelDir: string;
  size: number;
  steps: number;
  lowMemory: boolean;
  variant: string;
  /** Only the VAE decoder, on random latents: whole, or tiled as vae-decode.ts does for large images. */
  vae?: 'whole' | 'tiled';
  /** The optimized-model cache, as the render worker uses one (low-memory mode reloads from it every image). */
  optimizedCacheDir?: string;
}

export interface MemoryProbeResult {
  startRss: number;
  loadPeak: number;
  loadMs: number;
  runPeak: number;
  runMs: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as MemoryProbeArgs;
const startRss = memoryNow().rss;
if (args.vae) {
  const options = { threads: physicalCores(), ...sessionVariant(args.variant) };
  const loadStarted = performance.now();
  const decoder = await OnnxModel.load(join(args.modelDir, 'vae_decoder', 'model.onnx'), options);
  const loadMs = performance.now() - loadStarted;
  const loadPeak = memoryNow().peak;
  const side = args.size / 8;
  const latents = new TorchGenerator(1).randn(4 * side * side);
  const runStarted = performance.now();
  await decodeLatents(decoder, latents, side, side, args.vae === 'tiled' ? { ...DEFAULT_TILING, maxUntiled: 0 } : { ...DEFAULT_TILING, maxUntiled: Infinity });
  const result: MemoryProbeResult = { startRss, loadPeak, loadMs, runPeak: memoryNow().peak, runMs: performance.now() - runStarted };
  console.log(`PROBE ${JSON.stringify(result)}`);
  process.exit(0);
}
const loadStarted = performance.now();
const model = await loadSdModel('probe', args.modelDir, {
  threads: physicalCores(),
  ...sessionVariant(args.variant),
  ...(args.optimizedCacheDir ? { optimizedCacheDir: args.optimizedCacheDir } : {}),
  lowMemory: args.lowMemory,
});
const loadMs = performance.now() - loadStarted;
const loadPeak = memoryNow().peak;
const runStarted = performance.now();
await generate(model, {
  prompt: 'a photograph of an astronaut riding a horse',
  negativePrompt: '',
  sampler: 'euler',
  steps: args.steps,
  cfgScale: 7.5,
  width: args.size,
  height: args.size,
  seed: 1,
});
const result: MemoryProbeResult = { startRss, loadPeak, loadMs, runPeak: memoryNow().peak, runMs: performance.now() - runStarted };
await releaseSdModel(model);
console.log(`PROBE ${JSON.stringify(result)}`);
