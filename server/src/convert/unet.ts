// diffusers' UNet2DConditionModel (SD 1.x/2.x) with the diffusers ONNX contract:
// sample [batch, channels, height, width], timestep float32 [batch] (or [1], broadcast over the batch),
// encoder_hidden_states [batch, sequence, cross_attention_dim] → out_sample [batch, out_channels, height, width].
// Any latent size works: each upsampler resizes to the size of the skip connection it meets (diffusers'
// upsample_size path), so odd sides (images that are multiples of 8 but not of 64) come back exactly.
import { GraphBuilder } from './graph-builder.js';
import type { ModelDef } from './onnx-proto.js';
import { conv2d, groupNorm, silu } from './nn-layers.js';
import { builderOptions, type BuildOptions } from './clip-text-encoder.js';
import { resnetBlock, spatialTransformer, timeEmbedding, upsample } from './sd-blocks.js';
import type { UnetConfig } from './sd-config.js';

export interface UnetBuildOptions extends BuildOptions {
  /**
   * Random weights only: scale of the time-embedding projections and of conv_out (real UNets zero-initialise
   * conv_out), so a random test model's prediction is noise-sized and clearly depends on the timestep.
   */
  randomGains?: { temb?: number; convOut?: number };
}

export function buildUnet(config: UnetConfig, opts: UnetBuildOptions = {}): ModelDef {
  const channels = config.blockOutChannels;
  const blocks = channels.length;
  const groups = config.normGroups;
  const eps = config.normEps;
  const tembDim = 4 * channels[0];
  const b = new GraphBuilder('unet', builderOptions(opts));
  const sample = b.floatInput('sample', ['batch', 'channels', 'height', 'width']);
  // Not cast: the sinusoidal embedding is computed in float32 (nn-layers' timestepEmbedding).
  const timestep = b.input('timestep', 'float32', ['batch']);
  const context = b.floatInput('encoder_hidden_states', ['batch', 'sequence', config.crossAttentionDim]);

  const temb = timeEmbedding(b, timestep, 'time_embedding', channels[0], tembDim, {
    flipSinToCos: config.flipSinToCos,
    freqShift: config.freqShift,
  });
  const resnet = (x: string, name: string, inChannels: number, outChannels: number, outputScale = 1): string =>
    resnetBlock(b, x, temb, name, {
      inChannels,
      outChannels,
      groups,
      eps,
      tembDim,
      tembGain: opts.randomGains?.temb,
      outputScale,
    });
  const transformer = (x: string, name: string, ch: number, block: number, upBlock = false): string => {
    const index = upBlock ? blocks - 1 - block : block;
    return spatialTransformer(b, x, context, name, {
      channels: ch,
      contextDim: config.crossAttentionDim,
      heads: config.attentionHeads[index],
      groups,
      linearProjection: config.useLinearProjection,
      depth: config.transformerLayersPerBlock[index],
    });
  };

  let h = conv2d(b, sample, 'conv_in', config.inChannels, channels[0]);
  // Every down-path output is kept for the matching up-path resnet (U-Net skip connections).
  const skips: { value: string; channels: number }[] = [{ value: h, channels: channels[0] }];
  let current = channels[0];
  for (let i = 0; i < blocks; i++) {
    const name = `down_blocks.${i}`;
    const out = channels[i];
    const hasAttention = config.downBlockTypes[i] === 'CrossAttnDownBlock2D';
    for (let j = 0; j < config.layersPerBlock; j++) {
      h = resnet(h, `${name}.resnets.${j}`, current, out);
      current = out;
      if (hasAttention) h = transformer(h, `${name}.attentions.${j}`, out, i);
      skips.push({ value: h, channels: out });
    }
    if (i < blocks - 1) {
      h = conv2d(b, h, `${name}.downsamplers.0.conv`, out, out, { stride: 2, padding: config.downsamplePadding });
      skips.push({ value: h, channels: out });
    }
  }

  // Mid block: resnet, transformer, resnet at the lowest resolution.
  const mid = channels[blocks - 1];
  h = resnet(h, 'mid_block.resnets.0', mid, mid, config.midBlockScaleFactor);
  h = spatialTransformer(b, h, context, 'mid_block.attentions.0', {
    channels: mid,
    contextDim: config.crossAttentionDim,
    heads: config.attentionHeads[blocks - 1],
    groups,
    linearProjection: config.useLinearProjection,
    depth: config.transformerLayersPerBlock[blocks - 1],
  });
  h = resnet(h, 'mid_block.resnets.1', mid, mid, config.midBlockScaleFactor);

  // Up path: reversed widths; each resnet takes the concatenation of the current map and one skip.
  for (let i = 0; i < blocks; i++) {
    const name = `up_blocks.${i}`;
    const out = channels[blocks - 1 - i];
    const hasAttention = config.upBlockTypes[i] === 'CrossAttnUpBlock2D';
    for (let j = 0; j <= config.layersPerBlock; j++) {
      const skip = skips.pop();
      if (!skip) throw new Error('unet: skip connections ran out (inconsistent block configuration)');
      const joined = b.op('Concat', [h, skip.value], { axis: 1 }, `${name}/skip_concat`);
      h = resnet(joined, `${name}.resnets.${j}`, current + skip.channels, out);
      current = out;
      if (hasAttention) h = transformer(h, `${name}.attentions.${j}`, out, i, true);
    }
    if (i < blocks - 1) {
      const next = skips[skips.length - 1];
      h = upsample(b, h, `${name}.upsamplers.0`, out, out, next.value);
    }
  }
  if (skips.length !== 0) throw new Error(`unet: ${skips.length} skip connections left over`);

  h = silu(b, groupNorm(b, h, 'conv_norm_out', current, groups, eps), 'conv_act');
  const out = conv2d(b, h, 'conv_out', current, config.outChannels, { gain: opts.randomGains?.convOut });
  b.floatOutput('out_sample', ['batch', config.outChannels, 'height', 'width'], out);
  return b.build();
}
