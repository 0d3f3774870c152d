// fp16 networks from the graph builder (precision 'fp16'), checked on the graphs themselves without running them:
// float16 parameters, float32 inputs and outputs, every node's inputs of one float type (what onnxruntime checks
// at load), and float32 exactly where nn-layers.ts says: the timestep sinusoid, norm statistics, attention scores,
// Resize scales. The medium test (convert-fp16.test.ts) runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClipTextEncoder } from '../../server/src/convert/clip-text-encoder.js';
import type { Precision } from '../../server/src/convert/graph-builder.js';
import type { ModelDef, NodeDef } from '../../server/src/convert/onnx-proto.js';
import { builtinConfig } from '../../server/src/convert/sd-config.js';
import { buildUnet } from '../../server/src/convert/unet.js';
import { buildVaeDecoder, buildVaeEncoder } from '../../server/src/convert/vae.js';

const CODE_TYPES: Record<number, string> = { 1: 'float32', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16' };
/** Ops whose float inputs (by index; all when undefined) must share one type. */
const SAME_TYPE: Record<string, number[] | undefined> = {
  Add: undefined, Sub: undefined, Mul: undefined, Div: undefined, MatMul: undefined, Conv: undefined, Concat: undefined,
  Clip: undefined, InstanceNormalization: undefined, MultiHeadAttention: undefined, Where: [1, 2], Resize: [0],
};
const isFloat = (type: string | undefined) => type === 'float32' || type === 'float16';

function intAttr(node: NodeDef, name: string): number {
  const a = node.attributes?.[name];
  if (a?.type !== 'int') throw new Error(`${node.name}: no int attribute ${name}`);
  return a.value;
}

/** Every value's element type, propagated from the inputs and initializers; throws where a node mixes float types. */
function valueTypes(model: ModelDef): Map<string, string> {
  const types = new Map<string, string>();
  for (const i of model.graph.inputs) types.set(i.name, i.elemType);
  for (const t of model.graph.initializers) types.set(t.name, t.dataType);
  for (const node of model.graph.nodes) {
    const inputs = node.inputs.map((n) => (n === '' ? undefined : types.get(n)));
    node.inputs.forEach((n, i) => assert.ok(n === '' || inputs[i], `${node.name}: input ${n} has no type yet`));
    const checked = SAME_TYPE[node.opType];
    if (node.opType in SAME_TYPE) {
      const floats = inputs.filter((t, i) => isFloat(t) && (!checked || checked.includes(i)));
      assert.equal(new Set(floats).size <= 1, true, `${node.name} (${node.opType}) mixes ${floats.join(', ')}`);
    }
    let out: string;
    if (node.opType === 'Cast') out = CODE_TYPES[intAttr(node, 'to')]!;
    else if (node.opType === 'RandomNormalLike') out = CODE_TYPES[intAttr(node, 'dtype')]!;
    else if (node.opType === 'Shape' || node.opType === 'ArgMax') out = 'int64';
    else if (node.opType === 'Greater') out = 'bool';
    else if (node.opType === 'Where') out = inputs[1]!;
    else out = inputs[0]!;
    for (const o of node.outputs) types.set(o, out);
  }
  return types;
}

/** The element type each node of `opType` (whose name matches) computes in. */
function computeTypes(model: ModelDef, types: Map<string, string>, opType: string, name: RegExp = /./): string[] {
  return model.graph.nodes.filter((n) => n.opType === opType && name.test(n.name ?? '')).map((n) => types.get(n.outputs[0]!)!);
}

const sd15 = builtinConfig('sd15');
const sd21 = builtinConfig('sd21');
const networks = (precision: Precision, fusedAttention: boolean): [string, ModelDef][] => [
  ['SD 1.5 text encoder', buildClipTextEncoder(sd15.textEncoder, { precision, fusedAttention })],
  ['SD 2.1 text encoder', buildClipTextEncoder(sd21.textEncoder, { precision, fusedAttention })],
  ['SD 1.5 UNet', buildUnet(sd15.unet, { precision, fusedAttention })],
  ['SD 2.1 UNet', buildUnet(sd21.unet, { precision, fusedAttention })],
  ['VAE decoder', buildVaeDecoder(sd15.vae, { precision, fusedAttention })],
  ['VAE encoder (sample)', buildVaeEncoder(sd15.vae, { precision, fusedAttention, encoderOutput: 'sample' })],
];

for (const fused of [false, true]) {
  test(`fp16${fused ? ' with fused attention' : ''}: float16 parameters, float32 I/O, one float type per node`, () => {
    for (const [label, model] of networks('fp16', fused)) {
      for (const v of [...model.graph.inputs, ...model.graph.outputs]) {
        if (v.name !== 'input_ids') assert.equal(v.elemType, 'float32', `${label}: ${v.name}`);
      }
      const params = model.graph.initializers.filter((t) => !t.name.startsWith('const_'));
      assert.ok(params.length > 50, `${label}: ${params.length} parameters`);
      const notHalf = params.filter((t) => t.dataType !== 'float16').map((t) => t.name);
      assert.deepEqual(notHalf, [], `${label}: parameters not in float16`);
      const types = valueTypes(model);
      for (const v of model.graph.outputs) assert.equal(types.get(v.name), 'float32', `${label}: ${v.name} reaches its output as float32`);
      // Convolutions and projections run in float16; float32 MatMuls are attention scores only.
      assert.deepEqual([...new Set(computeTypes(model, types, 'Conv'))].filter(Boolean), label.includes('text') ? [] : ['float16'], `${label}: Conv`);
      const matmuls32 = model.graph.nodes.filter((n) => n.opType === 'MatMul' && types.get(n.outputs[0]!) === 'float32');
      assert.deepEqual(matmuls32.filter((n) => !n.name!.includes('/scores')).map((n) => n.name), [], `${label}: float32 MatMuls`);
      if (fused && !label.includes('text')) assert.equal(matmuls32.length, 0, `${label}: fused attention computes no scores itself`);
      assert.deepEqual([...new Set(computeTypes(model, types, 'Softmax'))], fused && !label.includes('text') ? [] : ['float32'], `${label}: Softmax`);
      // Norm statistics in float32, the per-channel affine in float16.
      assert.deepEqual([...new Set(computeTypes(model, types, 'InstanceNormalization'))], label.includes('text') ? [] : ['float32']);
      assert.deepEqual([...new Set(computeTypes(model, types, 'ReduceMean'))], label.includes('VAE') ? [] : ['float32']);
      // Resize takes float32 scales by the ONNX spec.
      for (const node of model.graph.nodes.filter((n) => n.opType === 'Resize' && n.inputs[2])) {
        assert.equal(types.get(node.inputs[2]!), 'float32', `${label}: ${node.name} scales`);
      }
    }
  });
}

test('fp16 UNet: the timestep sinusoid is float32 and is cast only before time_embedding.linear_1', () => {
  const model = buildUnet(sd15.unet, { precision: 'fp16' });
  const types = valueTypes(model);
  const timestep = model.graph.inputs.find((i) => i.name === 'timestep');
  assert.equal(timestep?.elemType, 'float32');
  // t · f for t up to 999: float16 would put these off by up to a quarter radian.
  for (const op of ['Mul', 'Cos', 'Sin', 'Concat']) {
    assert.deepEqual(computeTypes(model, types, op, /^time_proj\//), ['float32'], `time_proj ${op}`);
  }
  const frequencies = model.graph.nodes.find((n) => n.name?.startsWith('time_proj/') && n.opType === 'Mul')!.inputs[1]!;
  assert.equal(model.graph.initializers.find((t) => t.name === frequencies)?.dataType, 'float32');
  const consumers = model.graph.nodes.filter((n) => n.inputs.includes('timestep')).map((n) => n.name);
  assert.deepEqual(consumers, ['time_proj/Unsqueeze/Unsqueeze'], 'only the sinusoid reads the timestep');
  assert.deepEqual(computeTypes(model, types, 'MatMul', /^time_embedding\.linear_1/), ['float16']);
});

test('fp32 builds are unchanged by the precision machinery: no Cast, nothing float16', () => {
  for (const [label, model] of networks('fp32', false)) {
    assert.deepEqual(model.graph.nodes.filter((n) => n.opType === 'Cast').map((n) => n.name), [], label);
    assert.deepEqual(model.graph.initializers.filter((t) => t.dataType === 'float16').map((t) => t.name), [], label);
    const types = valueTypes(model);
    assert.ok([...types.values()].every((t) => t !== 'float16'), label);
  }
});
