// The real-architecture graph builders without any reference data: random weights → build → run (shapes, finite
// values) at toy sizes in SD 1.x and SD 2.x flavours, and, at full SD 1.5 / 2.1 size without generating a weight,
// the parameter counts and the single-file key map (an independent enumeration of the original LDM layout).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildClipTextEncoder } from '../../server/src/convert/clip-text-encoder.js';
import { mapCheckpointKey } from '../../server/src/convert/checkpoint-keys.js';
import type { CheckpointInfo, Component } from '../../server/src/convert/checkpoint-keys.js';
import { writeModel } from '../../server/src/convert/onnx-proto.js';
import type { ModelDef } from '../../server/src/convert/onnx-proto.js';
import { builtinConfig } from '../../server/src/convert/sd-config.js';
import type { TextEncoderConfig, UnetConfig, VaeConfig } from '../../server/src/convert/sd-config.js';
import { buildUnet } from '../../server/src/convert/unet.js';
import { buildVaeDecoder, buildVaeEncoder } from '../../server/src/convert/vae.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-convert-arch-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function session(name: string, model: ModelDef, external = false): Promise<ort.InferenceSession> {
  await mkdir(join(dir, name), { recursive: true });
  const path = join(dir, name, 'model.onnx');
  await writeModel(path, model, external ? { externalDataFile: 'weights.pb' } : {});
  return ort.InferenceSession.create(path);
}

function randn(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return Float32Array.from({ length: count }, () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

function assertFinite(t: ort.Tensor, label: string): void {
  const data = t.data as Float32Array;
  const bad = data.findIndex((v) => !Number.isFinite(v));
  assert.equal(bad, -1, `${label}: ${data[bad]} at ${bad}`);
  assert.ok(data.some((v) => v !== 0), `${label} is all zeros`);
}

const TEXT: TextEncoderConfig = {
  vocabSize: 100, hiddenSize: 16, intermediateSize: 24, layers: 3, heads: 4,
  act: 'gelu', maxPositions: 77, layerNormEps: 1e-5, penultimate: true,
};

test('CLIP text encoder: shapes, pooling at the end token, penultimate = one layer fewer', async () => {
  const ids = new Int32Array(2 * 77).fill(99);
  ids.set([98, 5, 6, 7], 0);
  ids.set([98, 3], 77);
  const feeds = { input_ids: new ort.Tensor('int32', ids, [2, 77]) };
  const penultimate = await session('te-pen', buildClipTextEncoder(TEXT, { seed: 3 }));
  const twoLayers = await session('te-two', buildClipTextEncoder({ ...TEXT, layers: 2, penultimate: false }, { seed: 3 }));
  const a = await penultimate.run(feeds);
  const b = await twoLayers.run(feeds);
  assert.deepEqual(a.last_hidden_state.dims, [2, 77, 16]);
  assert.deepEqual(a.pooler_output.dims, [2, 16]);
  assertFinite(a.last_hidden_state, 'last_hidden_state');
  assert.deepEqual(a.last_hidden_state.data, b.last_hidden_state.data, 'same weights, same output');
  const hidden = a.last_hidden_state.data as Float32Array;
  const pooled = a.pooler_output.data as Float32Array;
  assert.deepEqual(pooled.subarray(0, 16), hidden.subarray(4 * 16, 5 * 16), 'row 0 pools its first end token');
  assert.deepEqual(pooled.subarray(16), hidden.subarray((77 + 2) * 16, (77 + 3) * 16), 'row 1 pools its first end token');
  await Promise.all([penultimate.release(), twoLayers.release()]);
});

/** SD 2.x flavour: linear projections, two transformer blocks, per-block heads, 9-channel inpainting input. */
const UNET_SD2: UnetConfig = {
  inChannels: 9, outChannels: 4, blockOutChannels: [16, 32, 32], layersPerBlock: 1,
  downBlockTypes: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  upBlockTypes: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  attentionHeads: [2, 4, 4], transformerLayersPerBlock: [2, 2, 2], crossAttentionDim: 12, normGroups: 8, normEps: 1e-5,
  useLinearProjection: true, flipSinToCos: true, freqShift: 0, downsamplePadding: 1, midBlockScaleFactor: 1, sampleSize: 8,
};
const UNET_SD1: UnetConfig = { ...UNET_SD2, inChannels: 4, useLinearProjection: false, transformerLayersPerBlock: [1, 1, 1], attentionHeads: [8, 8, 8] };

for (const [label, config] of [['SD 1.x', UNET_SD1], ['SD 2.x inpainting', UNET_SD2]] as const) {
  test(`UNet (${label} style): any latent size, timestep [1] or [batch], finite output`, async () => {
    const s = await session(`unet-${config.inChannels}`, buildUnet(config, { seed: 1 }), true);
    try {
      for (const [h, w] of [[8, 8], [9, 7], [5, 3]]) {
        const run = (timestep: number[]) =>
          s.run({
            sample: new ort.Tensor('float32', randn(2 * config.inChannels * h * w, h + w), [2, config.inChannels, h, w]),
            timestep: new ort.Tensor('float32', Float32Array.from(timestep), [timestep.length]),
            encoder_hidden_states: new ort.Tensor('float32', randn(2 * 77 * 12, 5), [2, 77, 12]),
          });
        const one = (await run([500])).out_sample;
        assert.deepEqual(one.dims, [2, 4, h, w]);
        assertFinite(one, `out_sample ${h}×${w}`);
        assert.deepEqual((await run([500, 500])).out_sample.data, one.data, 'timestep [1] broadcasts like [batch]');
      }
    } finally {
      await s.release();
    }
  });
}

const VAE: VaeConfig = {
  inChannels: 3, outChannels: 3, blockOutChannels: [8, 16, 16, 16], layersPerBlock: 1, latentChannels: 4,
  normGroups: 4, scalingFactor: 0.18215, sampleSize: 64, midBlockAttention: true,
};

test('VAE: decoder ×8, encoder ÷8 (mean and sampled posterior), with and without mid-block attention', async () => {
  for (const attention of [true, false]) {
    const config = { ...VAE, midBlockAttention: attention };
    const decoder = await session(`dec-${attention}`, buildVaeDecoder(config, { seed: 2 }));
    const image = (await decoder.run({ latent_sample: new ort.Tensor('float32', randn(4 * 5 * 3, 9), [1, 4, 5, 3]) })).sample;
    assert.deepEqual(image.dims, [1, 3, 40, 24]);
    assertFinite(image, 'decoded');
    for (const output of ['mean', 'sample'] as const) {
      const encoder = await session(`enc-${attention}-${output}`, buildVaeEncoder(config, { seed: 2, encoderOutput: output }));
      const latent = (await encoder.run({ sample: image })).latent_sample;
      assert.deepEqual(latent.dims, [1, 4, 5, 3]);
      assertFinite(latent, `encoded (${output})`);
      await encoder.release();
    }
    await decoder.release();
  }
});

const params = (m: ModelDef) => m.graph.initializers.filter((t) => !t.name.startsWith('const_'));
const paramCount = (m: ModelDef) => params(m).reduce((n, t) => n + t.dims.reduce((a, b) => a * b, 1), 0);

test('full-size SD 1.5 and SD 2.1 graphs build without materialising weights, with the published parameter counts', () => {
  const start = performance.now();
  for (const [model, unet, text] of [['sd15', 859_520_964, 123_060_480], ['sd21', 865_910_724, 340_387_840]] as const) {
    const config = builtinConfig(model);
    assert.equal(paramCount(buildUnet(config.unet)), unet, `${model} UNet`);
    assert.equal(paramCount(buildClipTextEncoder(config.textEncoder)), text, `${model} text encoder`);
    assert.equal(paramCount(buildVaeDecoder(config.vae)) + paramCount(buildVaeEncoder(config.vae)), 83_653_863, `${model} VAE`);
  }
  assert.ok(performance.now() - start < 10_000, 'random weights are generated lazily, at write time');
});

// The original LDM layout, enumerated from openaimodel.UNetModel / ldm Encoder+Decoder / OpenCLIP (not from the
// mapper), for channel_mult (1, 2, 4, 4), 2 res blocks, attention at the first three levels.
const pair = (p: string) => [`${p}.weight`, `${p}.bias`];
function ldmResblock(p: string, shortcut: boolean): string[] {
  return ['in_layers.0', 'in_layers.2', 'out_layers.0', 'out_layers.3', 'emb_layers.1', ...(shortcut ? ['skip_connection'] : [])].flatMap((x) => pair(`${p}.${x}`));
}
function ldmTransformer(p: string): string[] {
  const b = `${p}.transformer_blocks.0`;
  const attn = (a: string) => [`${b}.${a}.to_q.weight`, `${b}.${a}.to_k.weight`, `${b}.${a}.to_v.weight`, ...pair(`${b}.${a}.to_out.0`)];
  return [...['norm', 'proj_in', 'proj_out'].flatMap((x) => pair(`${p}.${x}`)), ...attn('attn1'), ...attn('attn2'),
    ...['ff.net.0.proj', 'ff.net.2', 'norm1', 'norm2', 'norm3'].flatMap((x) => pair(`${b}.${x}`))];
}
function ldmUnetKeys(): string[] {
  const mult = [1, 2, 4, 4];
  const keys = [...pair('time_embed.0'), ...pair('time_embed.2'), ...pair('input_blocks.0.0'), ...pair('out.0'), ...pair('out.2')];
  const skipChannels = [320];
  let ch = 320;
  let index = 1;
  for (let level = 0; level < 4; level++) {
    for (let n = 0; n < 2; n++, index++) {
      keys.push(...ldmResblock(`input_blocks.${index}.0`, ch !== 320 * mult[level]));
      ch = 320 * mult[level];
      if (level < 3) keys.push(...ldmTransformer(`input_blocks.${index}.1`));
      skipChannels.push(ch);
    }
    if (level < 3) keys.push(...pair(`input_blocks.${index++}.0.op`)), skipChannels.push(ch);
  }
  keys.push(...ldmResblock('middle_block.0', false), ...ldmTransformer('middle_block.1'), ...ldmResblock('middle_block.2', false));
  index = 0;
  for (let level = 3; level >= 0; level--) {
    for (let i = 0; i < 3; i++, index++) {
      const out = 320 * mult[level];
      keys.push(...ldmResblock(`output_blocks.${index}.0`, ch + (skipChannels.pop() ?? 0) !== out));
      ch = out;
      if (level < 3) keys.push(...ldmTransformer(`output_blocks.${index}.1`));
      if (level > 0 && i === 2) keys.push(...pair(`output_blocks.${index}.${level < 3 ? 2 : 1}.conv`));
    }
  }
  return keys.map((k) => `model.diffusion_model.${k}`);
}
function ldmVaeKeys(): string[] {
  const res = (p: string, shortcut: boolean) => ['norm1', 'conv1', 'norm2', 'conv2', ...(shortcut ? ['nin_shortcut'] : [])].flatMap((x) => pair(`${p}.${x}`));
  const mid = (p: string) => [...res(`${p}.mid.block_1`, false), ...res(`${p}.mid.block_2`, false), ...['norm', 'q', 'k', 'v', 'proj_out'].flatMap((x) => pair(`${p}.mid.attn_1.${x}`))];
  const ch = [128, 256, 512, 512];
  const keys = [...pair('quant_conv'), ...pair('post_quant_conv'), ...mid('encoder'), ...mid('decoder'),
    ...['conv_in', 'conv_out', 'norm_out'].flatMap((x) => [...pair(`encoder.${x}`), ...pair(`decoder.${x}`)])];
  let c = 128;
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 2; j++) keys.push(...res(`encoder.down.${i}.block.${j}`, c !== ch[i])), (c = ch[i]);
    if (i < 3) keys.push(...pair(`encoder.down.${i}.downsample.conv`));
  }
  for (let i = 3; i >= 0; i--) {
    for (let j = 0; j < 3; j++) keys.push(...res(`decoder.up.${i}.block.${j}`, c !== ch[i])), (c = ch[i]);
    if (i > 0) keys.push(...pair(`decoder.up.${i}.upsample.conv`));
  }
  return [...keys, 'loss.logvar'].map((k) => `first_stage_model.${k}`);
}
function openClipKeys(blocks: number): string[] {
  const keys = ['token_embedding.weight', 'positional_embedding', ...pair('ln_final'), 'text_projection', 'logit_scale'];
  for (let i = 0; i < blocks; i++) {
    const p = `transformer.resblocks.${i}`;
    keys.push(`${p}.attn.in_proj_weight`, `${p}.attn.in_proj_bias`, ...['attn.out_proj', 'ln_1', 'ln_2', 'mlp.c_fc', 'mlp.c_proj'].flatMap((x) => pair(`${p}.${x}`)));
  }
  return keys.map((k) => `cond_stage_model.model.${k}`);
}

test('full-size single-file key map: every SD 1.5 / 2.1 weight lands on exactly one parameter of the graphs', () => {
  for (const family of ['sd1', 'sd2'] as const) {
    const config = builtinConfig(family === 'sd1' ? 'sd15' : 'sd21');
    const info: CheckpointInfo = { family, inpainting: false, unetInChannels: 4, vPredictionMarker: false, description: family };
    const keys = [...ldmUnetKeys(), ...ldmVaeKeys(), ...(family === 'sd2' ? openClipKeys(24) : [])];
    const mapped: Record<Component, string[]> = { unet: [], vae: [], text_encoder: [] };
    for (const key of keys) for (const t of mapCheckpointKey(key, info, { unetLayersPerBlock: 2, vaeLevels: 4 })) mapped[t.component].push(t.name);
    const wanted: [Component, ModelDef[]][] = [
      ['unet', [buildUnet(config.unet)]],
      ['vae', [buildVaeDecoder(config.vae), buildVaeEncoder(config.vae)]],
    ];
    if (family === 'sd2') wanted.push(['text_encoder', [buildClipTextEncoder(config.textEncoder)]]);
    for (const [component, models] of wanted) {
      const names = new Set(models.flatMap((m) => params(m).map((t) => t.name)));
      const got = mapped[component];
      assert.equal(new Set(got).size, got.length, `${family} ${component}: no two checkpoint tensors map to one name`);
      const missing = [...names].filter((n) => !got.includes(n));
      assert.deepEqual(missing, [], `${family} ${component}: parameters no checkpoint tensor maps to`);
      // SD 2.x keeps OpenCLIP's last block (24 in the file, 23 used: the penultimate layer feeds the UNet).
      const extra = got.filter((n) => !names.has(n) && !n.startsWith('text_model.encoder.layers.23.'));
      assert.deepEqual(extra, [], `${family} ${component}: mapped names the graph does not have`);
    }
  }
});
