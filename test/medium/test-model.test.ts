// The generated tiny model: real onnxruntime loads it, its tensor contract is the diffusers export's, it reacts to
// the timestep and the prompt, and a seed always writes the same bytes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { writeTinyModel } from '../../server/src/convert/tiny-model.js';

const realExportDir = fileURLToPath(new URL('../../../shared/data/tiny-sd1/onnx/', import.meta.url));
const COMPONENTS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'] as const;
type Component = (typeof COMPONENTS)[number];
const TEXT_DIM = 32;

interface Port {
  name: string;
  type: string;
  /** A string is a symbolic dimension (its name matters for inputs only), a number a fixed one. */
  shape: (string | number)[];
}

// The contract the pipeline relies on (diffusers' convert_stable_diffusion_checkpoint_to_onnx.py export).
const CONTRACT: Record<Component, { inputs: Port[]; outputs: Port[] }> = {
  text_encoder: {
    inputs: [{ name: 'input_ids', type: 'int32', shape: ['batch', 'sequence'] }],
    outputs: [
      { name: 'last_hidden_state', type: 'float32', shape: ['B', 'S', TEXT_DIM] },
      { name: 'pooler_output', type: 'float32', shape: ['B', TEXT_DIM] },
    ],
  },
  unet: {
    inputs: [
      { name: 'sample', type: 'float32', shape: ['batch', 'channels', 'height', 'width'] },
      { name: 'timestep', type: 'float32', shape: ['batch'] },
      { name: 'encoder_hidden_states', type: 'float32', shape: ['batch', 'sequence', TEXT_DIM] },
    ],
    outputs: [{ name: 'out_sample', type: 'float32', shape: ['B', 4, 'H', 'W'] }],
  },
  vae_decoder: {
    inputs: [{ name: 'latent_sample', type: 'float32', shape: ['batch', 'channels', 'height', 'width'] }],
    outputs: [{ name: 'sample', type: 'float32', shape: ['B', 3, 'H', 'W'] }],
  },
  vae_encoder: {
    inputs: [{ name: 'sample', type: 'float32', shape: ['batch', 'channels', 'height', 'width'] }],
    outputs: [{ name: 'latent_sample', type: 'float32', shape: ['B', 4, 'H', 'W'] }],
  },
};

let dir: string;
let writeMs: number;
const sessions = new Map<Component, ort.InferenceSession>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-test-model-'));
  const start = performance.now();
  await writeTinyModel(join(dir, 'seed1'), { seed: 1 });
  writeMs = performance.now() - start;
  for (const c of COMPONENTS) sessions.set(c, await ort.InferenceSession.create(join(dir, 'seed1', c, 'model.onnx')));
});

after(async () => {
  for (const s of sessions.values()) await s.release();
  await rm(dir, { recursive: true, force: true });
});

function session(c: Component): ort.InferenceSession {
  const s = sessions.get(c);
  assert.ok(s, `${c} session was not created`);
  return s;
}

function ports(metadata: readonly ort.InferenceSession.ValueMetadata[]): Port[] {
  return metadata.map((m) => {
    assert.ok(m.isTensor, `${m.name} is not a tensor`);
    return { name: m.name, type: m.type, shape: [...m.shape] };
  });
}

/**
 * How symbolic expected dims are checked: 'same-name' (inputs: the pipeline and tools read these names),
 * 'symbolic' (ours must be symbolic too, any name) or 'free' (the reference is symbolic where we may be fixed).
 * Fixed expected dims must always be equal, except the embedding-width axes listed in `widthAxes`.
 */
type SymbolicRule = 'same-name' | 'symbolic' | 'free';

function assertPortsMatch(
  actual: Port[],
  expected: Port[],
  label: string,
  rule: SymbolicRule,
  widthAxes = new Set<string>(),
): void {
  assert.deepEqual(actual.map((p) => p.name), expected.map((p) => p.name), `${label}: names`);
  actual.forEach((port, i) => {
    const want = expected[i];
    assert.equal(port.type, want.type, `${label} ${port.name}: type`);
    assert.equal(port.shape.length, want.shape.length, `${label} ${port.name}: rank of [${port.shape}]`);
    port.shape.forEach((dim, axis) => {
      const wanted = want.shape[axis];
      const where = `${label} ${port.name}[${axis}]: got ${dim}, expected ${wanted}`;
      if (widthAxes.has(`${port.name}[${axis}]`)) return;
      if (typeof wanted === 'number' || rule === 'same-name') assert.equal(dim, wanted, where);
      else if (rule === 'symbolic') assert.equal(typeof dim, 'string', where);
    });
  });
}

for (const c of COMPONENTS) {
  test(`${c}: inputs and outputs follow the diffusers contract`, () => {
    const s = session(c);
    assertPortsMatch(ports(s.inputMetadata), CONTRACT[c].inputs, c, 'same-name');
    assertPortsMatch(ports(s.outputMetadata), CONTRACT[c].outputs, c, 'symbolic');
  });

  test(`${c}: inputs and outputs match the real diffusers export`, async (t) => {
    if (!existsSync(join(realExportDir, c, 'model.onnx'))) {
      t.skip(`real export absent at ${realExportDir}`);
      return;
    }
    const real = await ort.InferenceSession.create(join(realExportDir, c, 'model.onnx'));
    try {
      // The real tiny export is 8 wide where ours is 32, a property of the model size like SD1's 768 vs SD2's 1024.
      const widthAxes = new Set(['last_hidden_state[2]', 'pooler_output[1]', 'encoder_hidden_states[2]']);
      const ours = session(c);
      assertPortsMatch(ports(ours.inputMetadata), ports(real.inputMetadata), `${c} vs real`, 'same-name', widthAxes);
      assertPortsMatch(ports(ours.outputMetadata), ports(real.outputMetadata), `${c} vs real`, 'free', widthAxes);
    } finally {
      await real.release();
    }
  });
}

function randn(count: number, seed: number): Float32Array {
  // A small LCG + Box–Muller: the test only needs fixed, unit-scale inputs.
  let state = seed >>> 0;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return Float32Array.from({ length: count }, normal);
}

function floats(tensor: ort.Tensor): Float32Array {
  assert.equal(tensor.type, 'float32');
  return tensor.data as Float32Array;
}

function assertFinite(data: Float32Array, label: string): void {
  const bad = data.findIndex((v) => !Number.isFinite(v));
  assert.equal(bad, -1, `${label}: value ${data[bad]} at ${bad}`);
}

function rms(a: Float32Array, b?: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - (b ? b[i] : 0)) ** 2;
  return Math.sqrt(sum / a.length);
}

async function tokenIds(): Promise<{ ids: Int32Array; eosAt: number[] }> {
  const vocabText = await readFile(join(dir, 'seed1', 'tokenizer', 'vocab.json'), 'utf8');
  const vocab = JSON.parse(vocabText) as Record<string, number>;
  const bos = vocab['<|startoftext|>'];
  const eos = vocab['<|endoftext|>'];
  assert.ok(bos !== undefined && eos !== undefined, 'vocab has CLIP bos/eos tokens');
  // Two prompts padded with eos to CLIP's 77, as the pipeline sends them; the pooled row is the first eos.
  const ids = new Int32Array(2 * 77).fill(eos);
  const prompts = [[3, 4, 5], [7]];
  prompts.forEach((tokens, row) => ids.set([bos, ...tokens], row * 77));
  return { ids, eosAt: prompts.map((p) => p.length + 1) };
}

async function encodePrompts(): Promise<ort.Tensor> {
  const { ids, eosAt } = await tokenIds();
  const out = await session('text_encoder').run({ input_ids: new ort.Tensor('int32', ids, [2, 77]) });
  assert.deepEqual(out.last_hidden_state.dims, [2, 77, TEXT_DIM]);
  assert.deepEqual(out.pooler_output.dims, [2, TEXT_DIM]);
  const hidden = floats(out.last_hidden_state);
  const pooled = floats(out.pooler_output);
  assertFinite(hidden, 'last_hidden_state');
  eosAt.forEach((pos, row) => {
    const expected = hidden.subarray((row * 77 + pos) * TEXT_DIM, (row * 77 + pos + 1) * TEXT_DIM);
    assert.deepEqual(pooled.subarray(row * TEXT_DIM, (row + 1) * TEXT_DIM), expected, `pooler row ${row} = eos state`);
  });
  return out.last_hidden_state;
}

test('text_encoder: the vocabulary fits and pooling takes the first end-of-text state', async () => {
  await encodePrompts();
});

for (const [h, w] of [
  [8, 8],
  [16, 12],
  [9, 7], // odd latent sides: images whose sides are multiples of 8 but not 16
]) {
  test(`unet ${h}×${w}: shapes, finiteness, timestep and prompt change the prediction`, async () => {
    const context = await encodePrompts();
    const sample = new ort.Tensor('float32', randn(2 * 4 * h * w, h * w), [2, 4, h, w]);
    const run = async (t: number[], ctx: ort.Tensor = context) =>
      floats(
        (
          await session('unet').run({
            sample,
            timestep: new ort.Tensor('float32', Float32Array.from(t), [t.length]),
            encoder_hidden_states: ctx,
          })
        ).out_sample,
      );
    const base = await run([999]); // the pipeline passes one timestep for the whole (CFG-doubled) batch
    assert.equal(base.length, 2 * 4 * h * w);
    assertFinite(base, 'out_sample');
    assert.ok(rms(base) > 0.2, `prediction rms ${rms(base)} is negligible`);
    assert.deepEqual(await run([999, 999]), base, 'timestep [batch] and [1] give the same result');

    const otherTime = await run([1]);
    assert.ok(rms(base, otherTime) > 0.1 * rms(base), `timestep 999 vs 1 differs by only ${rms(base, otherTime)}`);
    const otherPrompt = new ort.Tensor('float32', randn(2 * 77 * TEXT_DIM, 7), [2, 77, TEXT_DIM]);
    const prompted = await run([999], otherPrompt);
    assert.ok(rms(base, prompted) > 0.1 * rms(base), `prompt change differs by only ${rms(base, prompted)}`);
  });

  test(`vae ${h}×${w}: decoder gives 8× images near [-1, 1] (unclamped), encoder gives 1/8 latents`, async () => {
    const latent = new ort.Tensor('float32', randn(4 * h * w, 3), [1, 4, h, w]);
    const image = (await session('vae_decoder').run({ latent_sample: latent })).sample;
    assert.deepEqual(image.dims, [1, 3, 8 * h, 8 * w]);
    const pixels = floats(image);
    assertFinite(pixels, 'decoded image');
    const inside = pixels.filter((v) => Math.abs(v) <= 1).length / pixels.length;
    assert.ok(inside > 0.8, `only ${(inside * 100).toFixed(1)}% of pixels in [-1, 1]`);
    assert.ok(inside < 1, 'decoder output looks clamped; the pipeline is the one that clamps');

    const encoded = (await session('vae_encoder').run({ sample: image })).latent_sample;
    assert.deepEqual(encoded.dims, [1, 4, h, w]);
    assertFinite(floats(encoded), 'encoded latents');
  });
}

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

test('layout is the diffusers one, small and quick to write', async () => {
  const files = await listFiles(join(dir, 'seed1'));
  for (const expected of [
    'model_index.json',
    'scheduler/scheduler_config.json',
    'text_encoder/model.onnx',
    'tokenizer/vocab.json',
    'unet/model.onnx',
    'unet/weights.pb',
    'vae_decoder/model.onnx',
    'vae_encoder/model.onnx',
  ]) {
    assert.ok(files.includes(expected), `${expected} is missing from [${files.join(', ')}]`);
  }
  const index = JSON.parse(await readFile(join(dir, 'seed1', 'model_index.json'), 'utf8'));
  assert.equal(index._class_name, 'OnnxStableDiffusionPipeline');
  assert.equal(index.requires_safety_checker, false);
  assert.deepEqual(index.unet, ['diffusers', 'OnnxRuntimeModel']);
  const scheduler = JSON.parse(await readFile(join(dir, 'seed1', 'scheduler', 'scheduler_config.json'), 'utf8'));
  assert.equal(scheduler._class_name, 'PNDMScheduler');
  assert.equal(scheduler.beta_schedule, 'scaled_linear');

  let total = 0;
  for (const f of files) total += (await stat(join(dir, 'seed1', f))).size;
  assert.ok(total < 10 * 1024 * 1024, `model is ${total} bytes`);
  assert.ok(writeMs < 10_000, `writing took ${writeMs.toFixed(0)} ms`);
});

test('same seed writes identical bytes, another seed other weights', async () => {
  await writeTinyModel(join(dir, 'seed1-again'), { seed: 1 });
  await writeTinyModel(join(dir, 'seed2'), { seed: 2 });
  const files = await listFiles(join(dir, 'seed1'));
  assert.deepEqual(await listFiles(join(dir, 'seed1-again')), files);
  for (const f of files) {
    const [a, b] = await Promise.all([readFile(join(dir, 'seed1', f)), readFile(join(dir, 'seed1-again', f))]);
    assert.ok(a.equals(b), `${f} differs between two writes with seed 1`);
  }
  for (const f of ['text_encoder/model.onnx', 'unet/weights.pb', 'vae_decoder/model.onnx', 'vae_encoder/model.onnx']) {
    const [a, b] = await Promise.all([readFile(join(dir, 'seed1', f)), readFile(join(dir, 'seed2', f))]);
    assert.equal(a.length, b.length, `${f}: same architecture, same size`);
    assert.ok(!a.equals(b), `${f} is the same for seeds 1 and 2`);
  }
});
