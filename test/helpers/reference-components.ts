// Runs every network of a converted model folder on diffusers' reference inputs (../shared/data/reference/components)
// and measures how far each output is from diffusers' own. Used by the converter's parity tests.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { readNpy } from './npy.js';

export const REFERENCE_DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));

export type ReferenceModel = 'tiny-sd1' | 'tiny-sd2v';

export interface OutputDiff {
  /** max |ours − diffusers'| */
  maxAbsDiff: number;
  /** max |diffusers'|: the output's scale, for relative tolerances */
  maxAbs: number;
}

function read(model: ReferenceModel, file: string) {
  return readNpy(join(REFERENCE_DATA, 'reference', 'components', model, `${file}.npy`));
}

function tensor(model: ReferenceModel, file: string): ort.Tensor {
  const array = read(model, file);
  return array.data instanceof Int32Array
    ? new ort.Tensor('int32', array.data, array.shape)
    : new ort.Tensor('float32', array.data, array.shape);
}

function diff(actual: ort.Tensor, model: ReferenceModel, file: string): OutputDiff {
  const expected = read(model, file);
  assert.deepEqual([...actual.dims], expected.shape, `${file}: shape`);
  const a = actual.data as Float32Array;
  let maxAbsDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - expected.data[i]!));
    maxAbs = Math.max(maxAbs, Math.abs(expected.data[i]!));
  }
  return { maxAbsDiff, maxAbs }; // a NaN makes maxAbsDiff NaN, which no tolerance accepts
}

/** Every output of every network of `outDir` against diffusers' reference outputs. */
export async function compareWithReference(outDir: string, model: ReferenceModel): Promise<Record<string, OutputDiff>> {
  const diffs: Record<string, OutputDiff> = {};
  const run = async (component: string, feeds: Record<string, ort.Tensor>) => {
    const session = await ort.InferenceSession.create(join(outDir, component, 'model.onnx'));
    try {
      return await session.run(feeds);
    } finally {
      await session.release();
    }
  };
  const text = await run('text_encoder', { input_ids: tensor(model, 'text_encoder.input_ids') });
  diffs.last_hidden_state = diff(text.last_hidden_state!, model, 'text_encoder.last_hidden_state');
  diffs.pooler_output = diff(text.pooler_output!, model, 'text_encoder.pooler_output');
  for (const c of ['a', 'b']) {
    const feeds = Object.fromEntries(['sample', 'timestep', 'encoder_hidden_states'].map((n) => [n, tensor(model, `unet_${c}.${n}`)]));
    diffs[`unet_${c}`] = diff((await run('unet', feeds)).out_sample!, model, `unet_${c}.out_sample`);
  }
  const decoded = await run('vae_decoder', { latent_sample: tensor(model, 'vae_decoder.latent_sample') });
  diffs.vae_decoder = diff(decoded.sample!, model, 'vae_decoder.sample');
  // diffusers' exported encoder samples the posterior; its std is ~3e-7 here, so the mean is the reference.
  const encoded = await run('vae_encoder', { sample: tensor(model, 'vae_encoder.sample') });
  diffs.vae_encoder = diff(encoded.latent_sample!, model, 'vae_encoder.latent_mean');
  return diffs;
}
