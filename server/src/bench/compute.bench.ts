// Compute efficiency: the CPU's matrix-multiply ceiling through onnxruntime, against the rate the UNet reaches.
// The UNet's work is counted from the graph the builder emits (flops.ts), so the ratio compares like with like:
// 2 × multiply-adds of its convolutions and MatMuls per step, over the step's time.
// With --fp16 the models are their float16 twins and the ceiling is float16 MatMuls (GPU tensor cores); a whole
// 20-step image is timed from its parts: text encoder + 20 UNet steps + VAE decoder.
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GraphBuilder, type Precision } from '../convert/graph-builder.js';
import { writeModel } from '../convert/onnx-proto.js';
import { builtinConfig, type UnetConfig } from '../convert/sd-config.js';
import { normalTensor } from '../convert/seeded-random.js';
import { buildUnet } from '../convert/unet.js';
import { OnnxModel, type Feed, type SessionOptions } from '../pipeline/onnx/onnx-session.js';
import { TorchGenerator } from '../pipeline/rng.js';
import type { Bench, BenchContext } from './bench.js';
import { ensureBenchModel, withPrecision, type BenchModelId } from './bench-models.js';
import { countFlops } from './flops.js';
import { physicalCores } from '../pipeline/onnx/cpu-cores.js';
import { fmt, median, table } from './report.js';
import { sessionVariant } from './session-variants.js';

export const computeBench: Bench = {
  name: 'compute',
  about: 'MatMul GFLOP/s ceiling vs the UNet’s achieved GFLOP/s (FLOPs counted from its graph), s/step',
  async run(ctx: BenchContext): Promise<string> {
    const threads = physicalCores();
    const providers = ctx.provider === 'cuda' ? (['cuda', 'cpu'] as const) : (['cpu'] as const);
    const precision = ctx.precision ?? 'fp32';
    const ceilings = await matmulCeilings(ctx, threads, providers, precision);
    const ceiling = Math.max(...ceilings.map((c) => c.gflops));
    const models = ((ctx.models ?? (ctx.quick ? ['small'] : ['sd15'])) as (BenchModelId | 'small')[]).map((m) =>
      m === 'small' ? m : withPrecision(m, precision),
    );
    const sizes = ctx.sizes ?? (ctx.quick ? [64] : [256, 512]);
    const variants = ctx.variants ?? ['default'];
    const rows: string[][] = [];
    for (const model of models) {
      const { path, config } = await unetFor(ctx, model, precision);
      for (const variant of variants) {
        const options = { threads, providers, ...sessionVariant(variant) };
        const loadStarted = performance.now();
        const unet = await OnnxModel.load(path, options);
        const loadMs = performance.now() - loadStarted;
        const parts = model === 'small' ? undefined : await ImageParts.load(dirname(dirname(path)), options);
        try {
          for (const size of sizes) {
            const latent = size / 8;
            const flops = countFlops(buildUnet(config, { fusedAttention: model.startsWith('sd15-fused') }), {
              sample: [2, 4, latent, latent],
              timestep: [2],
              encoder_hidden_states: [2, 77, config.crossAttentionDim],
            });
            const { first, steady } = await timeUnet(unet, latent, config.crossAttentionDim, ctx.steps ?? (size >= 512 ? 3 : 5));
            const s = median(steady);
            const gflops = flops.total / (s / 1000) / 1e9;
            const image = parts ? (await parts.time(size)) + IMAGE_STEPS * s : undefined;
            ctx.log(
              `  ${model} ${variant} ${size}²: ${(flops.total / 1e12).toFixed(3)} TFLOP, ${fmt.s(s)}/step, ${gflops.toFixed(1)} GFLOP/s` +
                (image === undefined ? '' : `, ${fmt.s(image)} per ${IMAGE_STEPS}-step image`),
            );
            rows.push([
              model,
              variant,
              `${size}²`,
              `${(flops.total / 1e12).toFixed(3)} (conv ${(flops.conv / 1e12).toFixed(2)}, linear ${(flops.linear / 1e12).toFixed(2)}, attention ${(flops.attention / 1e12).toFixed(2)})`,
              fmt.s(loadMs),
              first.map(fmt.s).join(', '),
              `**${fmt.s(s)}** (${steady.map((x) => (x / 1000).toFixed(2)).join(', ')})`,
              gflops.toFixed(1),
              `**${fmt.ratio(gflops / ceiling)}**`,
              fmt.s((flops.total / (ceiling * 1e9)) * 1000),
              image === undefined ? '–' : fmt.s(image),
            ]);
          }
        } finally {
          await unet.release();
          await parts?.release();
        }
      }
    }
    return [
      `${ctx.provider === 'cuda' ? 'CUDA execution provider' : `${threads} onnxruntime threads`}, ${precision} models. Ceiling: square ${precision} MatMuls through onnxruntime (models written by Easel's ONNX writer); the best is the ceiling.`,
      '',
      table(
        ['MatMul', 'GFLOP/s (median of 5)'],
        ceilings.map((c) => [c.label, c.gflops.toFixed(1)]),
      ),
      '',
      'UNet, batch 2 (one image with classifier-free guidance). FLOPs = 2 × multiply-adds counted from the builder’s graph. ' +
        `${IMAGE_STEPS}-step image = text encoder (batch 2) + ${IMAGE_STEPS} × the median step + VAE decoder, each timed at that size (scheduler and preview work excluded).`,
      '',
      table(
        ['model', 'session', 'size', 'TFLOP/step', 'session load', 'first 2 calls', 's/step (steady, median)', 'GFLOP/s', '**÷ ceiling**', 'floor s/step', `${IMAGE_STEPS}-step image`],
        rows,
      ),
    ].join('\n');
  },
};

async function matmulCeilings(
  ctx: BenchContext,
  threads: number,
  providers: SessionOptions['providers'],
  precision: Precision,
): Promise<{ label: string; gflops: number }[]> {
  const sides = ctx.quick ? [512] : [2048, 4096];
  const dir = join(ctx.cacheDir, 'matmul');
  await mkdir(dir, { recursive: true });
  const out = [];
  for (const n of sides) {
    for (const weight of [true, false]) {
      // A weight operand is what linear layers and convolutions (im2col) multiply by; onnxruntime prepacks it.
      // In fp16 the float32 inputs and output are cast at the edges: n² work beside the MatMul's n³.
      const b = new GraphBuilder('matmul', { precision, seed: 1 });
      const a = b.floatInput('a', [n, n]);
      const other = weight ? b.weight('w', [n, n], { fanIn: n }) : b.floatInput('b', [n, n]);
      b.floatOutput('y', [n, n], b.op('MatMul', [a, other]));
      const path = join(dir, `matmul-${n}-${weight ? 'weight' : 'inputs'}-${precision}.onnx`);
      await writeModel(path, b.build());
      const model = await OnnxModel.load(path, { threads, providers });
      const x = { kind: 'float' as const, dims: [n, n], data: normalTensor(2, 'a', n * n, 1) };
      const feeds: Record<string, Feed> = weight ? { a: x } : { a: x, b: { ...x, data: normalTensor(3, 'b', n * n, 1) } };
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const started = performance.now();
        await model.run(feeds);
        if (i >= 2) times.push(performance.now() - started);
      }
      await model.release();
      const gflops = (2 * n ** 3) / (median(times) / 1000) / 1e9;
      const label = `${n}×${n} · ${n}×${n} (${weight ? 'constant weight' : 'two inputs'})`;
      ctx.log(`  MatMul ${label}: ${gflops.toFixed(1)} GFLOP/s`);
      out.push({ label, gflops });
    }
  }
  return out;
}

/** The UNet file and its config: a cached bench model, or in quick mode a narrow SD-shaped one written here. */
async function unetFor(ctx: BenchContext, model: BenchModelId | 'small', precision: Precision): Promise<{ path: string; config: UnetConfig }> {
  const config = builtinConfig('sd15').unet;
  if (model !== 'small') return { path: join(await ensureBenchModel(ctx.cacheDir, model, ctx.log), 'unet', 'model.onnx'), config };
  const small: UnetConfig = { ...config, blockOutChannels: [32, 64, 64, 64], attentionHeads: [2, 2, 2, 2], crossAttentionDim: 64 };
  const path = join(ctx.cacheDir, `small-unet-${precision}`, 'model.onnx');
  await mkdir(dirname(path), { recursive: true });
  await writeModel(path, buildUnet(small, { seed: 1, precision }));
  return { path, config: small };
}

const IMAGE_STEPS = 20;

/** The text encoder and VAE decoder of a bench model: the rest of an image's time beside its UNet steps. */
class ImageParts {
  private constructor(
    private readonly textEncoder: OnnxModel,
    private readonly vaeDecoder: OnnxModel,
  ) {}

  static async load(dir: string, options: SessionOptions): Promise<ImageParts> {
    const load = (component: string) => OnnxModel.load(join(dir, component, 'model.onnx'), options);
    return new ImageParts(await load('text_encoder'), await load('vae_decoder'));
  }

  /** Median ms of text encoding (prompt and negative prompt) plus decoding one `size`² image, after a warm-up. */
  async time(size: number): Promise<number> {
    const latent = size / 8;
    const ids = { kind: 'int' as const, dims: [2, 77], data: Int32Array.from({ length: 2 * 77 }, (_, i) => (i % 77 === 0 ? 1 : 2)) };
    const latents = { kind: 'float' as const, dims: [1, 4, latent, latent], data: new TorchGenerator(1).randn(4 * latent * latent) };
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const started = performance.now();
      await this.textEncoder.run({ input_ids: ids });
      await this.vaeDecoder.run({ latent_sample: latents });
      if (i > 0) times.push(performance.now() - started);
    }
    return median(times);
  }

  async release(): Promise<void> {
    await Promise.all([this.textEncoder.release(), this.vaeDecoder.release()]);
  }
}

/** Times UNet calls at one size: the first two separately (onnxruntime is much slower on them), then `steps`. */
async function timeUnet(unet: OnnxModel, latent: number, contextDim: number, steps: number): Promise<{ first: number[]; steady: number[] }> {
  const rng = new TorchGenerator(0);
  const feeds = {
    sample: { kind: 'float' as const, dims: [2, 4, latent, latent], data: rng.randn(2 * 4 * latent * latent) },
    timestep: { kind: 'float' as const, dims: [2], data: Float32Array.of(500, 500) },
    encoder_hidden_states: { kind: 'float' as const, dims: [2, 77, contextDim], data: rng.randn(2 * 77 * contextDim) },
  };
  const times: number[] = [];
  for (let i = 0; i < steps + 2; i++) {
    const started = performance.now();
    const { out_sample: out } = await unet.run(feeds);
    times.push(performance.now() - started);
    // A float16 overflow shows as inf/NaN: a fast wrong answer is no benchmark.
    if (i === 0 && out && !out.data.every(Number.isFinite)) throw new Error(`${unet.path}: the UNet's output is not finite`);
  }
  return { first: times.slice(0, 2), steady: times.slice(2) };
}
