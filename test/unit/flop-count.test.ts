// The compute benchmark's FLOP counter: exact on a graph small enough to count by hand, and on the SD 1.5 UNet
// it must give the work per step that the performance reference measured (1.61 TFLOP at 512², batch 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countFlops } from '../../server/src/bench/flops.js';
import { GraphBuilder } from '../../server/src/convert/graph-builder.js';
import { attention, conv2d } from '../../server/src/convert/nn-layers.js';
import { builtinConfig } from '../../server/src/convert/sd-config.js';
import { buildUnet } from '../../server/src/convert/unet.js';

function smallGraph(fusedAttention: boolean) {
  const b = new GraphBuilder('small', { fusedAttention });
  const x = b.input('x', 'float32', ['batch', 3, 'h', 'w']);
  const y = conv2d(b, x, 'conv', 3, 8, { stride: 2 });
  // [B, 8, H/2, W/2] → tokens [B, HW/4, 8] through the same Shape/Reshape plumbing the builders use.
  const tokens = b.op('Transpose', [b.op('Reshape', [y, b.constInt64([0, 8, -1])])], { perm: [0, 2, 1] });
  const out = attention(b, tokens, undefined, 'attn', { dim: 8, heads: 2 });
  b.output('y', 'float32', ['batch', 'tokens', 8], out);
  return b.build();
}

test('a conv and an attention block count as worked out by hand, fused or not', () => {
  for (const fused of [false, true]) {
    const f = countFlops(smallGraph(fused), { x: [2, 3, 16, 12] });
    // conv: 2 · N · Cout · Hout · Wout · Cin · k² = 2 · 2 · 8 · 8 · 6 · 3 · 9
    assert.equal(f.conv, 2 * 2 * 8 * 8 * 6 * 3 * 9);
    // q, k, v and out projections: 4 · 2 · (B · tokens) · 8 · 8, with 48 tokens per image.
    assert.equal(f.linear, 4 * 2 * 2 * 48 * 8 * 8);
    // scores and weighted sum: 2 · 2 · B · heads · 48 · 48 · headDim (4).
    assert.equal(f.attention, 2 * 2 * 2 * 2 * 48 * 48 * 4);
    assert.equal(f.total, f.conv + f.linear + f.attention);
  }
});

test('the SD 1.5 UNet costs 1.61 TFLOP per step at 512² with guidance (batch 2)', () => {
  const f = countFlops(buildUnet(builtinConfig('sd15').unet), { sample: [2, 4, 64, 64], timestep: [2], encoder_hidden_states: [2, 77, 768] });
  assert.equal((f.total / 1e12).toFixed(2), '1.61');
  assert.deepEqual([f.conv, f.linear, f.attention].map((x) => (x / 1e12).toFixed(2)), ['0.89', '0.47', '0.25']);
});

test('an op without a shape rule is an error, not a silent zero', () => {
  const b = new GraphBuilder('odd');
  const x = b.input('x', 'float32', [2]);
  b.output('y', 'float32', [2], b.op('Hardmax', [x]));
  assert.throws(() => countFlops(b.build(), { x: [2] }), /no shape rule for Hardmax/);
});
