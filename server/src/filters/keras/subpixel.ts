// Nearest-neighbour upsampling by s followed by a k×k "same" convolution equals one convolution on the small
// input with s² phase kernels, then DepthToSpace: every output pixel reads repeated copies of the same input
// pixels, so the weights that land on one copy can be summed beforehand. Super-resolution models end this way;
// rewritten, the big s²-times-larger feature map (48 channels at 2048² is 800 MB) is never built, which is what
// lets an upscale run in large tiles within modest memory. Same arithmetic up to float rounding.
import type { GraphBuilder } from '../../convert/graph-builder.js';
import type { KerasLayer, KerasWeight } from './tfjs-artifacts.js';

/** Whether `conv` can absorb a preceding nearest upsampling (stride 1, no dilation or groups, odd "same" kernel). */
export function canAbsorbUpsampling(conv: KerasLayer): boolean {
  const c = conv.config;
  const ones = (v: unknown) => v === undefined || v === 1 || (Array.isArray(v) && v.every((x) => x === 1));
  const kernel = c.kernel_size;
  const odd = Array.isArray(kernel) && kernel.length === 2 && kernel[0] === kernel[1] && (kernel[0] as number) % 2 === 1;
  return conv.class_name === 'Conv2D' && c.padding === 'same' && ones(c.strides) && ones(c.dilation_rate) && (c.groups ?? 1) === 1 && odd;
}

/** The conv of `layer` applied to `x` upsampled s× (nearest), computed at x's size and spread out by DepthToSpace. */
export function subpixelConv(b: GraphBuilder, layer: KerasLayer, x: string, s: number, kernel: KerasWeight, bias: KerasWeight | undefined): string {
  const [k, , cin, cout] = kernel.shape as [number, number, number, number];
  const r = (k - 1) / 2;
  // Output pixel s·Y + p, tap d reads small pixel floor((p + d) / s): an offset from lo to hi around Y.
  const lo = Math.floor(-r / s);
  const hi = Math.floor((s - 1 + r) / s);
  const span = hi - lo + 1;
  const outChannels = s * s * cout;
  const w = new Float64Array(outChannels * cin * span * span);
  for (let py = 0; py < s; py++)
    for (let px = 0; px < s; px++)
      for (let dy = -r; dy <= r; dy++)
        for (let dx = -r; dx <= r; dx++) {
          const oy = Math.floor((py + dy) / s) - lo;
          const ox = Math.floor((px + dx) / s) - lo;
          for (let ci = 0; ci < cin; ci++)
            for (let co = 0; co < cout; co++) {
              // DepthToSpace (DCR) takes channel (py·s + px)·cout + co to pixel (py, px) of channel co.
              const o = (py * s + px) * cout + co;
              w[((o * cin + ci) * span + oy) * span + ox] += kernel.data[(((dy + r) * k + (dx + r)) * cin + ci) * cout + co] as number;
            }
        }
  const ins = [x, b.initializer(`${layer.name}.subpixel_weight`, [outChannels, cin, span, span], Float32Array.from(w))];
  if (bias) ins.push(b.initializer(`${layer.name}.subpixel_bias`, [outChannels], Float32Array.from({ length: outChannels }, (_, i) => bias.data[i % cout] as number)));
  const conv = b.op('Conv', ins, { kernel_shape: [span, span], strides: [1, 1], dilations: [1, 1], group: 1, pads: [-lo, -lo, hi, hi] }, layer.name);
  return b.op('DepthToSpace', [conv], { blocksize: s, mode: 'DCR' }, `${layer.name}_d2s`);
}
