// A tiny VAE (random weights) with the diffusers ONNX contract:
// decoder latent_sample [batch, 4, h, w] → sample [batch, 3, 8h, 8w] (≈[-1, 1], not clamped: the pipeline clamps);
// encoder sample [batch, 3, H, W] → latent_sample [batch, 4, H/8, W/8] (a deterministic "mean", unscaled).
import { GraphBuilder } from './graph-builder.js';
import type { ModelDef } from './onnx-proto.js';
import { conv2d, groupNorm, silu } from './nn-layers.js';
import { upsample } from './sd-blocks.js';

const LATENT_CHANNELS = 4;
const IMAGE_CHANNELS = 3;

/** Channel widths per resolution, widest at the latent: fewer channels where there are more pixels keeps it fast. */
const DECODER_WIDTHS = [32, 16, 16, 8];
const ENCODER_WIDTHS = [8, 16, 32];

export function buildTinyVaeDecoder(seed: number): ModelDef {
  const b = new GraphBuilder('vae_decoder', { seed });
  const latent = b.input('latent_sample', 'float32', ['batch', 'channels', 'height', 'width']);

  let h = conv2d(b, latent, 'post_quant_conv', LATENT_CHANNELS, LATENT_CHANNELS, { kernel: 1 });
  h = conv2d(b, h, 'decoder.conv_in', LATENT_CHANNELS, DECODER_WIDTHS[0]);
  // Three ×2 stages: 8× the latent size, as SD's VAE.
  for (let i = 0; i < 3; i++) {
    h = upsample(b, h, `decoder.up_blocks.${i}.upsamplers.0`, DECODER_WIDTHS[i], DECODER_WIDTHS[i + 1]);
    h = silu(b, h, `decoder.up_blocks.${i}/act`);
  }
  const last = DECODER_WIDTHS[DECODER_WIDTHS.length - 1];
  h = silu(b, groupNorm(b, h, 'decoder.conv_norm_out', last, 4, 1e-6), 'decoder.conv_act');
  // Gain chosen so pixels land mostly within [-1, 1] with some overshoot, as a real decoder's do.
  const image = conv2d(b, h, 'decoder.conv_out', last, IMAGE_CHANNELS, { gain: 0.8 });
  b.output('sample', 'float32', ['batch', IMAGE_CHANNELS, 'image_height', 'image_width'], image);
  return b.build();
}

export function buildTinyVaeEncoder(seed: number): ModelDef {
  const b = new GraphBuilder('vae_encoder', { seed });
  const image = b.input('sample', 'float32', ['batch', 'channels', 'height', 'width']);

  // Three stride-2 convs: 1/8 of the image size.
  let h = image;
  let inChannels = IMAGE_CHANNELS;
  ENCODER_WIDTHS.forEach((width, i) => {
    const name = `encoder.down_blocks.${i}`;
    h = silu(b, conv2d(b, h, `${name}.downsamplers.0.conv`, inChannels, width, { stride: 2 }), `${name}/act`);
    inChannels = width;
  });
  h = silu(b, groupNorm(b, h, 'encoder.conv_norm_out', inChannels, 8, 1e-6), 'encoder.conv_act');
  h = conv2d(b, h, 'encoder.conv_out', inChannels, LATENT_CHANNELS);
  // Real SD latents have std ≈ 1 / 0.18215 before the pipeline scales them; the gain mimics that.
  const latent = conv2d(b, h, 'quant_conv', LATENT_CHANNELS, LATENT_CHANNELS, { kernel: 1, gain: 10 });
  b.output('latent_sample', 'float32', ['batch', LATENT_CHANNELS, 'latent_height', 'latent_width'], latent);
  return b.build();
}
