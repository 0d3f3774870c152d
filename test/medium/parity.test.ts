// Parity with diffusers: every reference case in ../shared/data/reference/pipeline, run through Easel's own
// pipeline on the diffusers-exported ONNX models, must land within the README's tolerances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { generate } from '../../server/src/pipeline/generate.js';
import { findSampler } from '../../server/src/pipeline/schedulers/samplers.js';
import { loadSdModel, releaseSdModel, type SdModel } from '../../server/src/pipeline/sd-model.js';
import { readNpyFloat32 } from '../helpers/npy.js';

const shared = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
const cases = join(shared, 'reference', 'pipeline');
const absent = existsSync(join(cases, 'index.json')) ? false : `reference data not found at ${shared} (it sits beside the repository on the developers' machines)`;

interface CaseEntry {
  case: string;
  model: string;
  pipeline: string;
  scheduler: string;
}
interface CaseJson {
  params: { prompt: string; negative_prompt: string | null; guidance_scale: number; width: number; height: number; num_inference_steps: number; seed: number; strength?: number; init_image?: string };
}

const index: CaseEntry[] = absent ? [] : (JSON.parse(readFileSync(join(cases, 'index.json'), 'utf8')) as CaseEntry[]);
const models = new Map<string, Promise<SdModel>>();
const modelFor = (name: string) => {
  if (!models.has(name)) models.set(name, loadSdModel(name, join(shared, name, 'onnx')));
  return models.get(name)!;
};

test('reference data is present', { skip: absent }, () => assert.ok(index.length > 0));

for (const entry of index) {
  const sampler = findSampler(entry.scheduler === 'pndm' ? 'pndm' : entry.scheduler);
  const skip = absent || (sampler ? false : `sampler ${entry.scheduler} is not implemented yet`);
  test(`${entry.case} matches diffusers`, { skip }, async () => {
    const c = JSON.parse(readFileSync(join(cases, entry.case, 'case.json'), 'utf8')) as CaseJson;
    const p = c.params;
    let init;
    if (p.init_image) {
      const { data, info } = await sharp(join(cases, 'inputs', p.init_image)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      init = { image: { width: info.width, height: info.height, pixels: new Uint8Array(data) }, strength: p.strength ?? 0.75 };
    }
    const result = await generate(await modelFor(entry.model), {
      prompt: p.prompt,
      negativePrompt: p.negative_prompt ?? '',
      sampler: entry.scheduler,
      steps: p.num_inference_steps,
      cfgScale: p.guidance_scale,
      width: p.width,
      height: p.height,
      seed: p.seed,
      ...(init ? { init } : {}),
    });
    assert.ok(result);

    const reference = readNpyFloat32(join(cases, entry.case, 'latents.npy'));
    let err = 0;
    let norm = 0;
    let worst = 0;
    let maxRef = 0;
    reference.data.forEach((r, i) => {
      const d = (result.latents[i] as number) - r;
      err += d * d;
      norm += r * r;
      worst = Math.max(worst, Math.abs(d));
      maxRef = Math.max(maxRef, Math.abs(r));
    });
    const relL2 = Math.sqrt(err / norm);
    assert.ok(relL2 <= 1e-4, `latents relative L2 ${relL2}`);
    assert.ok(worst <= 1e-4 * maxRef, `latents max difference ${worst} (max |ref| ${maxRef})`);

    const image = await sharp(join(cases, entry.case, 'image.png')).removeAlpha().raw().toBuffer();
    let differing = 0;
    let levels = 0;
    image.forEach((v, i) => {
      const d = Math.abs(v - (result.image.pixels[i] as number));
      if (d > 0) differing++;
      levels = Math.max(levels, d);
    });
    assert.ok(levels <= 2, `a pixel differs by ${levels} levels`);
    assert.ok(differing <= image.length * 0.01, `${differing} of ${image.length} values differ`);
  });
}

test('release the reference models', { skip: absent }, async () => {
  for (const m of models.values()) await releaseSdModel(await m);
});
