// TAESD's decoder (madebyollin/taesd `taesd.py` Decoder; diffusers `DecoderTiny` in
// models/autoencoders/vae.py, the decoder of `AutoencoderTiny`), with the I/O of diffusers' ONNX export:
//   latent_sample [batch, 4, h, w] (UNet-space latents: TAESD's scale factor is 1, no ÷0.18215)
//   → sample [batch, 3, 8h, 8w]
//
//   tanh(x / 3)·3 → conv 4→64 → ReLU
//   → 3 × [3 Blocks → Upsample ×2 (nearest) → conv 64→64 without bias]
//   → 1 Block → conv 64→3
// Block (diffusers AutoencoderTinyBlock) = ReLU(conv → ReLU → conv → ReLU → conv  +  x); all convs 3×3, padding 1.
// 1,222,531 parameters at full size. taesd.py's raw Decoder outputs ≈[0, 1]; DecoderTiny appends x·2 − 1 → [-1, 1].
// Parameter names are diffusers' (`decoder.layers.N…`, without the clamp, which has no module there), so a weight
// source reading AutoencoderTiny's safetensors can fill them.
import { GraphBuilder } from './graph-builder.js';
import type { BuildOptions } from './clip-text-encoder.js';
import type { ModelDef } from './onnx-proto.js';
import { conv2d, upsampleNearest2x } from './nn-layers.js';

/** '[-1,1]': diffusers' DecoderTiny (x·2 − 1 at the end), what its ONNX exports give; '[0,1]': taesd.py's raw Decoder. */
export type TaesdOutputRange = '[-1,1]' | '[0,1]';

export interface TaesdDecoderConfig {
  latentChannels: number;
  /** Every layer's width (TAESD: 64 throughout). */
  channels: number;
  /** Blocks per stage; a ×2 upsample follows every stage but the last (TAESD: 3, 3, 3, 1 → 8×). */
  blocksPerStage: readonly number[];
  outputRange: TaesdOutputRange;
}

export const TAESD_DECODER: TaesdDecoderConfig = {
  latentChannels: 4,
  channels: 64,
  blocksPerStage: [3, 3, 3, 1],
  outputRange: '[-1,1]',
};

export function buildTaesdDecoder(config: TaesdDecoderConfig = TAESD_DECODER, opts: BuildOptions = {}): ModelDef {
  const { channels, latentChannels, blocksPerStage } = config;
  const b = new GraphBuilder('vae_decoder', { seed: opts.seed, weights: opts.weights });
  const latent = b.input('latent_sample', 'float32', ['batch', 'channels', 'height', 'width']);

  // The clamp keeps out-of-distribution latents (early steps) from blowing up: a soft ±3.
  const third = b.op('Div', [latent, b.constFloat([3], [])], {}, 'clamp/Div');
  let h = b.op('Mul', [b.op('Tanh', [third], {}, 'clamp/Tanh'), b.constFloat([3], [])], {}, 'clamp/Mul');
  let index = 0;
  const layer = () => `decoder.layers.${index++}`;
  h = conv2d(b, h, layer(), latentChannels, channels);
  h = b.op('Relu', [h], {}, layer());
  blocksPerStage.forEach((blocks, stage) => {
    for (let i = 0; i < blocks; i++) h = block(b, h, layer(), channels);
    const last = stage === blocksPerStage.length - 1;
    if (!last) h = upsampleNearest2x(b, h, layer());
    // Random weights only: a small final gain keeps a random decoder's pixels near the trained one's range.
    h = last ? conv2d(b, h, layer(), channels, 3, { gain: 0.5 }) : conv2d(b, h, layer(), channels, channels, { bias: false });
  });
  if (config.outputRange === '[-1,1]') {
    h = b.op('Sub', [b.op('Mul', [h, b.constFloat([2], [])], {}, 'to_signed/Mul'), b.constFloat([1], [])], {}, 'to_signed/Sub');
  }
  b.output('sample', 'float32', ['batch', 3, 'image_height', 'image_width'], h);
  return b.build();
}

/** AutoencoderTinyBlock with equal in/out widths (the skip is the identity). */
function block(b: GraphBuilder, x: string, name: string, channels: number): string {
  let h = b.op('Relu', [conv2d(b, x, `${name}.conv.0`, channels, channels)], {}, `${name}.conv.1`);
  h = b.op('Relu', [conv2d(b, h, `${name}.conv.2`, channels, channels)], {}, `${name}.conv.3`);
  // Random weights only: a residual branch at half gain keeps ten stacked blocks from growing without bound.
  h = conv2d(b, h, `${name}.conv.4`, channels, channels, { gain: 0.5 });
  return b.op('Relu', [b.op('Add', [h, x], {}, `${name}/Add`)], {}, `${name}.fuse`);
}
