// POST /api/png-info, POST /api/watermark/check and the saveAs job field, through the real app (fake render backend).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config/config.js';
import { embedWatermark } from '../../server/src/filters/watermark.js';
import { encodeImage, type RgbImage } from '../../server/src/images/encode.js';
import { FakeBackend } from '../helpers/fake-backend.js';
import { fakeModelStore } from '../helpers/fake-model-store.js';
import { bandedPicture } from '../helpers/test-pictures.js';

let app: FastifyInstance;
let modelsDir: string;

before(async () => {
  modelsDir = await fakeModelStore(['alpha']);
  app = await buildApp(loadConfig(['--models', modelsDir, '--data', `${modelsDir}/data`], {}), { backend: new FakeBackend() });
});
after(async () => {
  await app.close();
  await rm(modelsDir, { recursive: true, force: true });
});

const dataUrl = (bytes: Buffer, mime: string): string => `data:${mime};base64,${bytes.toString('base64')}`;
const png = (image: RgbImage): Promise<Buffer> => sharp(Buffer.from(image.pixels), { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });

test('png-info reads the settings of a JPEG that Easel wrote', async () => {
  const parameters = 'a lighthouse\nNegative prompt: fog\nSteps: 12, Sampler: DPM++ 2M Karras, CFG scale: 4.5, Seed: 5, Size: 64x64, Model: sd15';
  const jpeg = await encodeImage(bandedPicture(64, 64, 1), 'jpeg', 85, { parameters, easel: '{}' });
  const res = await post('/api/png-info', { image: dataUrl(jpeg, 'image/jpeg') });
  assert.equal(res.statusCode, 200);
  const body = res.json() as { parameters: string; source: string; fields: Record<string, unknown> };
  assert.equal(body.parameters, parameters);
  assert.equal(body.source, 'a1111');
  assert.deepEqual(body.fields, {
    prompt: 'a lighthouse', negativePrompt: 'fog', steps: 12, sampler: 'dpmpp_2m_karras', samplerName: 'DPM++ 2M Karras', cfgScale: 4.5, seed: 5, width: 64, height: 64, model: 'sd15',
  });
});

test('watermark/check finds "StableDiffusionV1" in a marked picture and not in a plain one', async () => {
  const picture = bandedPicture(512, 512, 1);
  const marked = (await post('/api/watermark/check', { image: dataUrl(await png(embedWatermark(picture, 'StableDiffusionV1')), 'image/png') })).json() as Record<string, unknown>;
  assert.deepEqual([marked.text, marked.matchesDefault, marked.defaultBitsMatched, (marked.bits as number[]).length], ['StableDiffusionV1', true, 136, 136]);
  const plain = (await post('/api/watermark/check', { image: dataUrl(await png(picture), 'image/png') })).json() as Record<string, unknown>;
  assert.equal(plain.matchesDefault, false);
  const short = (await post('/api/watermark/check', { image: dataUrl(await png(embedWatermark(picture, 'Easel')), 'image/png'), lengthBits: 40 })).json() as Record<string, unknown>;
  assert.equal(short.text, 'Easel');
});

test('bad pictures are 400s naming the field, unknown ids 404s', async () => {
  const small = await post('/api/watermark/check', { image: dataUrl(await png(bandedPicture(64, 64, 1)), 'image/png') });
  assert.equal(small.statusCode, 400);
  assert.equal((small.json() as { error: { code: string } }).error.code, 'EASEL_ERR_IMAGE_TOO_SMALL');
  const notImage = await post('/api/png-info', { image: 'data:text/plain;base64,aGVsbG8=' });
  assert.equal(notImage.statusCode, 400);
  assert.equal((notImage.json() as { error: { field: string } }).error.field, 'image');
  assert.equal((await post('/api/png-info', { image: 'no-such-image' })).statusCode, 404);
  assert.equal((await post('/api/png-info', { image: 'x', extra: 1 })).statusCode, 400);
});

test('a job may name its file and folder patterns; an unknown token is a 400 naming the field', async () => {
  const ok = await post('/api/jobs', { prompt: 'a cat', saveAs: { folder: '[date]', fileName: '[counter]-[seed]', txt: true } });
  assert.equal(ok.statusCode, 202);
  const job = (await app.inject({ url: `/api/jobs/${(ok.json() as { id: string }).id}` })).json() as { request: { saveAs: unknown } };
  assert.deepEqual(job.request.saveAs, { folder: '[date]', fileName: '[counter]-[seed]', txt: true });
  const bad = await post('/api/jobs', { prompt: 'a cat', saveAs: { fileName: '[seed]-[colour]' } });
  assert.equal(bad.statusCode, 400);
  assert.equal((bad.json() as { error: { field: string } }).error.field, 'saveAs.fileName');
});
