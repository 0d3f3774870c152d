// TAESD's decoder as the graph builder emits it (architecture and size against the published figures and
// diffusers' parameter names), how its output range is told from a file, and how often the preview budget lets it run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countFlops } from '../../server/src/bench/flops.js';
import { GraphBuilder } from '../../server/src/convert/graph-builder.js';
import { encodeModel, type ModelDef } from '../../server/src/convert/onnx-proto.js';
import { buildTaesdDecoder, TAESD_DECODER } from '../../server/src/convert/taesd.js';
import { outputRangeOf, readGraphTail } from '../../server/src/pipeline/preview/onnx-output-range.js';
import { decodeSteps, PreviewBudget } from '../../server/src/pipeline/preview/preview-budget.js';

const params = (m: ModelDef) => m.graph.initializers.filter((t) => !t.name.startsWith('const_'));
const ops = (m: ModelDef, op: string) => m.graph.nodes.filter((n) => n.opType === op).length;

test('the full-size TAESD decoder has the published 1,222,531 parameters, in diffusers AutoencoderTiny names', () => {
  const model = buildTaesdDecoder();
  assert.equal(params(model).reduce((n, t) => n + t.dims.reduce((a, b) => a * b, 1), 0), 1_222_531);
  // conv_in, 10 blocks of 3 convs, 3 post-upsample convs, conv_out; 3 nearest ×2 upsamples.
  assert.equal(ops(model, 'Conv'), 1 + 10 * 3 + 3 + 1);
  assert.equal(ops(model, 'Resize'), 3);
  const names = new Set(params(model).map((t) => t.name));
  // DecoderTiny.layers: 0 conv, 1 ReLU, 2-4 blocks, 5 upsample, 6 conv (no bias), …, 17 block, 18 conv 64→3.
  for (const name of ['decoder.layers.0.bias', 'decoder.layers.2.conv.4.weight', 'decoder.layers.6.weight', 'decoder.layers.17.conv.0.weight', 'decoder.layers.18.bias']) {
    assert.ok(names.has(name), name);
  }
  assert.ok(!names.has('decoder.layers.6.bias'), 'the convs after an upsample have no bias');
  assert.deepEqual(params(model).find((t) => t.name === 'decoder.layers.18.weight')?.dims, [3, 64, 3, 3]);
  assert.deepEqual(model.graph.inputs.map((i) => i.name), ['latent_sample']);
  assert.deepEqual(model.graph.outputs.map((o) => o.name), ['sample']);
  // All ops are among those TAESD's published ONNX graph uses (plus the Sub of diffusers' x·2 − 1).
  const used = new Set(model.graph.nodes.map((n) => n.opType));
  assert.deepEqual([...used].sort(), ['Add', 'Conv', 'Div', 'Identity', 'Mul', 'Relu', 'Resize', 'Sub', 'Tanh']);
});

test('one TAESD decode at 512² is ~140 GFLOP: the reason it cannot run every step on a CPU', () => {
  const flops = countFlops(buildTaesdDecoder(), { latent_sample: [1, 4, 64, 64] });
  assert.equal((flops.conv / 1e9).toFixed(0), '141');
});

const TINY = { ...TAESD_DECODER, channels: 4, blocksPerStage: [1, 1, 1, 1] };

test('the output range is read from the graph: x·2 − 1 at the end is [-1, 1], a final Conv is [0, 1]', () => {
  const rangeOf = (m: ModelDef) => outputRangeOf(readGraphTail(encodeModel(m)));
  assert.equal(rangeOf(buildTaesdDecoder({ ...TINY, outputRange: '[-1,1]' })), '[-1,1]');
  assert.equal(rangeOf(buildTaesdDecoder({ ...TINY, outputRange: '[0,1]' })), '[0,1]');
  const b = new GraphBuilder('other');
  const x = b.input('x', 'float32', [1, 4, 2, 2]);
  b.output('sample', 'float32', [1, 4, 2, 2], b.op('Tanh', [x]));
  assert.equal(rangeOf(b.build()), undefined, 'an ending it cannot read says so rather than guessing');
});

test('the preview budget spends at most its share of the step time on decodes', () => {
  // SD 1.5 at 512² on this CPU: 9.9 s steps, 1.5 s decodes, 1.5 % → a decode once 1500 / 148.5 steps have paid
  // for it: every 11th step (the first step earns nothing: its duration is not known yet).
  const slow = decodeSteps(0.015, 9900, 1500, 40);
  assert.deepEqual(slow, [12, 23, 34]);
  assert.ok((slow.length * 1500) / (40 * 9900) <= 0.015);
  // A GPU: 100 ms steps, 1 ms decodes → every step but the first (whose step time is not known yet).
  assert.deepEqual(decodeSteps(0.015, 100, 1, 5), [2, 3, 4, 5]);
  // The tiny test model: 25 ms steps, 500 ms decodes → never within a job.
  assert.deepEqual(decodeSteps(0.015, 25, 500, 150), []);
});

test('credit is capped at one decode: a long pause does not buy a burst of decodes', () => {
  let clock = 0;
  const budget = new PreviewBudget(0.02, () => clock);
  budget.allows(100);
  budget.spent(0);
  clock += 1_000_000;
  assert.equal(budget.allows(100), true);
  budget.spent(100);
  clock += 10;
  assert.equal(budget.allows(100), false);
});
