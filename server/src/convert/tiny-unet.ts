// A tiny SD-style UNet (random weights) with the diffusers ONNX contract:
// sample [batch, 4, height, width], timestep float32 [batch] (or [1], broadcast), encoder_hidden_states
// [batch, sequence, contextDim] → out_sample [batch, 4, height, width]. Height and width must be even.
import { GraphBuilder } from './graph-builder.js';
import type { ModelDef } from './onnx-proto.js';
import { conv2d, groupNorm, silu } from './nn-layers.js';
import { downsample, resnetBlock, spatialTransformer, timeEmbedding, upsample } from './sd-blocks.js';

export interface TinyUnetOptions {
  seed: number;
  contextDim: number;
  channels?: number;
  groups?: number;
}

const LATENT_CHANNELS = 4;

export function buildTinyUnet(opts: TinyUnetOptions): ModelDef {
  const channels = opts.channels ?? 32;
  // 8 groups of 4 channels: with one channel per group GroupNorm would erase the per-channel time embedding.
  const groups = opts.groups ?? 8;
  const tembDim = 2 * channels;
  const b = new GraphBuilder('unet', { seed: opts.seed });
  const sample = b.input('sample', 'float32', ['batch', 'channels', 'height', 'width']);
  const timestep = b.input('timestep', 'float32', ['batch']);
  const context = b.input('encoder_hidden_states', 'float32', ['batch', 'sequence', opts.contextDim]);

  const temb = timeEmbedding(b, timestep, 'time_embedding', channels, tembDim);
  // A strong time projection, so predictions at different timesteps differ clearly (tests rely on it).
  const resnet = (x: string, name: string, inChannels: number): string =>
    resnetBlock(b, x, temb, name, { inChannels, outChannels: channels, groups, tembDim, tembGain: 3 });

  let h = conv2d(b, sample, 'conv_in', LATENT_CHANNELS, channels);
  // Down path at full resolution; its output is the skip connection.
  const skip = resnet(h, 'down_blocks.0.resnets.0', channels);
  h = downsample(b, skip, 'down_blocks.0.downsamplers.0', channels);
  // Middle at half resolution: where the prompt comes in through cross-attention.
  h = resnet(h, 'mid_block.resnets.0', channels);
  h = spatialTransformer(b, h, context, 'mid_block.attentions.0', {
    channels,
    contextDim: opts.contextDim,
    heads: 2,
    groups,
    ffDim: 2 * channels,
  });
  // Up path: back to full resolution, concatenated with the skip as diffusers' UpBlock2D does.
  h = upsample(b, h, 'up_blocks.0.upsamplers.0', channels, channels, skip);
  h = b.op('Concat', [h, skip], { axis: 1 }, 'up_blocks.0/skip_concat');
  h = resnet(h, 'up_blocks.0.resnets.0', 2 * channels);

  h = silu(b, groupNorm(b, h, 'conv_norm_out', channels, groups), 'conv_act');
  // Real UNets zero-initialise conv_out; here it is scaled so the prediction is of noise-like magnitude.
  const out = conv2d(b, h, 'conv_out', channels, LATENT_CHANNELS, { gain: 1.5 });
  b.output('out_sample', 'float32', ['batch', LATENT_CHANNELS, 'height', 'width'], out);
  return b.build();
}
