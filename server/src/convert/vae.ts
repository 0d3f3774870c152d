// diffusers' AutoencoderKL halves with the diffusers ONNX contract:
//   vae_decoder: latent_sample [batch, latent, h, w] (= latents / scaling_factor) → sample [batch, 3, 8h, 8w]
//                (≈[-1, 1], not clamped: the pipeline clamps).
//   vae_encoder: sample [batch, 3, H, W] in [-1, 1] → latent_sample [batch, latent, H/8, W/8], not scaled.
//
// About the encoder's output: diffusers' exporter traces `encode(x).latent_dist.sample()`, i.e. mean + std·ε with a
// RandomNormalLike node inside the graph. By default this builder returns the posterior *mean* instead: a trained
// SD VAE's log-variance is very low (std ≪ the latents' scale), so mean and sample differ negligibly, and a
// deterministic encoder keeps img2img reproducible from the pipeline's own seed. `encoderOutput: 'sample'` builds
// the exporter's stochastic version (logvar clamped to [-30, 20] as diffusers does).
import { GraphBuilder } from './graph-builder.js';
import type { ModelDef } from './onnx-proto.js';
import { attr, dataTypeCode } from './onnx-proto.js';
import { conv2d, groupNorm, silu } from './nn-layers.js';
import { builderOptions, type BuildOptions } from './clip-text-encoder.js';
import { downsample, resnetBlock, upsample, vaeAttention } from './sd-blocks.js';
import type { VaeConfig } from './sd-config.js';

const VAE_EPS = 1e-6;

export interface VaeBuildOptions extends BuildOptions {
  /** Random weights only: scale of the final conv, to put a random decoder's pixels near [-1, 1]. */
  randomOutGain?: number;
}

export function buildVaeDecoder(config: VaeConfig, opts: VaeBuildOptions = {}): ModelDef {
  const channels = config.blockOutChannels;
  const levels = channels.length;
  const groups = config.normGroups;
  const b = new GraphBuilder('vae_decoder', builderOptions(opts));
  const latent = b.floatInput('latent_sample', ['batch', 'channels', 'height', 'width']);

  let h = conv2d(b, latent, 'post_quant_conv', config.latentChannels, config.latentChannels, { kernel: 1 });
  let current = channels[levels - 1];
  h = conv2d(b, h, 'decoder.conv_in', config.latentChannels, current);
  h = midBlock(b, h, 'decoder.mid_block', current, groups, config.midBlockAttention);
  for (let i = 0; i < levels; i++) {
    const out = channels[levels - 1 - i];
    for (let j = 0; j <= config.layersPerBlock; j++) {
      h = resnetBlock(b, h, undefined, `decoder.up_blocks.${i}.resnets.${j}`, {
        inChannels: current,
        outChannels: out,
        groups,
        eps: VAE_EPS,
      });
      current = out;
    }
    if (i < levels - 1) h = upsample(b, h, `decoder.up_blocks.${i}.upsamplers.0`, out, out);
  }
  h = silu(b, groupNorm(b, h, 'decoder.conv_norm_out', current, groups, VAE_EPS), 'decoder.conv_act');
  const image = conv2d(b, h, 'decoder.conv_out', current, config.outChannels, { gain: opts.randomOutGain });
  b.floatOutput('sample', ['batch', config.outChannels, 'image_height', 'image_width'], image);
  return b.build();
}

export interface VaeEncoderBuildOptions extends BuildOptions {
  /** 'mean' (default, deterministic) or 'sample' (mean + std·RandomNormalLike, as diffusers' export). */
  encoderOutput?: 'mean' | 'sample';
}

export function buildVaeEncoder(config: VaeConfig, opts: VaeEncoderBuildOptions = {}): ModelDef {
  const channels = config.blockOutChannels;
  const levels = channels.length;
  const groups = config.normGroups;
  const latentChannels = config.latentChannels;
  const b = new GraphBuilder('vae_encoder', builderOptions(opts));
  const image = b.floatInput('sample', ['batch', 'channels', 'height', 'width']);

  let current = channels[0];
  let h = conv2d(b, image, 'encoder.conv_in', config.inChannels, current);
  for (let i = 0; i < levels; i++) {
    const out = channels[i];
    for (let j = 0; j < config.layersPerBlock; j++) {
      h = resnetBlock(b, h, undefined, `encoder.down_blocks.${i}.resnets.${j}`, {
        inChannels: current,
        outChannels: out,
        groups,
        eps: VAE_EPS,
      });
      current = out;
    }
    if (i < levels - 1) h = downsample(b, h, `encoder.down_blocks.${i}.downsamplers.0`, out, true);
  }
  h = midBlock(b, h, 'encoder.mid_block', current, groups, config.midBlockAttention);
  h = silu(b, groupNorm(b, h, 'encoder.conv_norm_out', current, groups, VAE_EPS), 'encoder.conv_act');
  // double_z: mean and log-variance, then the 1×1 quant_conv over both.
  h = conv2d(b, h, 'encoder.conv_out', current, 2 * latentChannels);
  const moments = conv2d(b, h, 'quant_conv', 2 * latentChannels, 2 * latentChannels, { kernel: 1 });
  const [mean, logvar] = b.node('Split', [moments], 2, { axis: 1 }, 'posterior/Split');
  let latent = mean;
  if (opts.encoderOutput === 'sample') {
    const clamped = b.op('Clip', [logvar, b.constFloat([-30], []), b.constFloat([20], [])], {}, 'posterior/Clip');
    const std = b.op('Exp', [b.op('Mul', [clamped, b.constFloat([0.5], [])], {}, 'posterior/half')], {}, 'posterior/Exp');
    const noise = b.op('RandomNormalLike', [mean], { dtype: dataTypeCode(b.floatType), mean: attr.float(0), scale: attr.float(1) }, 'posterior/noise');
    latent = b.op('Add', [mean, b.op('Mul', [std, noise], {}, 'posterior/Mul')], {}, 'posterior/Add');
  }
  b.floatOutput('latent_sample', ['batch', latentChannels, 'latent_height', 'latent_width'], latent);
  return b.build();
}

/** UNetMidBlock2D without time embedding: resnet, single-head attention (unless disabled), resnet. */
function midBlock(b: GraphBuilder, x: string, name: string, channels: number, groups: number, withAttention: boolean): string {
  const resnet = (h: string, i: number) =>
    resnetBlock(b, h, undefined, `${name}.resnets.${i}`, { inChannels: channels, outChannels: channels, groups, eps: VAE_EPS });
  let h = resnet(x, 0);
  if (withAttention) h = vaeAttention(b, h, `${name}.attentions.0`, channels, groups);
  return resnet(h, 1);
}
