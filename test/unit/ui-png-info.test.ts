// Drag-and-drop PNG info in the page: the server's POST /api/png-info answer turned into form settings, and the
// names other programs use matched to this server's models and samplers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PngInfoResult } from '../../server/src/http/schemas.js';
import { encodeImage } from '../../server/src/images/encode.js';
import { formatInfotext } from '../../server/src/images/infotext.js';
import { parseImageMetadata } from '../../server/src/images/metadata-parse.js';
import { fromPngInfo } from '../../ui/src/lib/image-metadata.js';
import { matchModel, matchSampler } from '../../ui/src/lib/name-match.js';

const answer = (changes: Partial<PngInfoResult>): PngInfoResult => ({ parameters: null, source: null, fields: {}, params: {}, items: {}, ...changes });

describe('settings from the server’s PNG info', () => {
  it('fills every field of an image Easel made, as the server reads it back', async () => {
    const request = { prompt: 'a fox, snow', negativePrompt: 'blurry', model: 'tiny-test', sampler: 'euler_a', steps: 8, cfgScale: 7, width: 64, height: 96, seed: 42 };
    const parameters = formatInfotext({ ...request, sampler: 'Euler a', version: '0.1.0' });
    const png = await encodeImage({ width: 2, height: 2, pixels: new Uint8Array(12) }, 'png', 90, { parameters, easel: JSON.stringify(request) });
    const found = fromPngInfo(parseImageMetadata(png) as PngInfoResult);
    assert.equal(found?.source, 'Easel');
    assert.deepEqual(found?.settings, request);
  });

  it('prefers Easel’s sampler id, else the image’s own name for it', () => {
    assert.equal(fromPngInfo(answer({ source: 'a1111', fields: { sampler: 'euler_a', samplerName: 'Euler a' } }))?.settings.sampler, 'euler_a');
    assert.equal(fromPngInfo(answer({ source: 'comfyui', fields: { samplerName: 'dpmpp_3m_sde' } }))?.settings.sampler, 'dpmpp_3m_sde');
  });

  it('names the program, and leaves out what the image does not say', () => {
    assert.deepEqual(fromPngInfo(answer({ source: 'invokeai', fields: { prompt: 'a bear', seed: 3 } })), { source: 'InvokeAI', settings: { prompt: 'a bear', seed: 3 } });
  });

  it('finds nothing when the server found no settings', () => {
    assert.equal(fromPngInfo(answer({})), null);
    assert.equal(fromPngInfo(answer({ source: 'a1111', fields: {} })), null);
  });
});

describe('matching names to this server', () => {
  const samplers = [
    { id: 'euler_a', name: 'Euler a', aliases: ['Euler a', 'k_euler_a', 'euler_ancestral'] },
    { id: 'dpmpp_2m', name: 'DPM++ 2M', aliases: ['DPM++ 2M', 'k_dpmpp_2m'] },
  ];
  const models = [{ id: 'v1-5-pruned', name: 'V1 5 pruned', family: 'sd15', kind: 'onnx', sizeBytes: 1, ready: true }];

  it('matches samplers by id, name or alias, and drops an unknown Karras schedule', () => {
    assert.equal(matchSampler('Euler a', samplers), 'euler_a');
    assert.equal(matchSampler('euler_ancestral', samplers), 'euler_a');
    assert.equal(matchSampler('DPM++ 2M Karras', samplers), 'dpmpp_2m');
    assert.equal(matchSampler('dpmpp_2m_karras', samplers), 'dpmpp_2m');
    assert.equal(matchSampler('DDIM', samplers), null);
  });

  it('matches models by file name without extension, hash or folder', () => {
    assert.equal(matchModel('v1-5-pruned.safetensors [6ce0161689]', models), 'v1-5-pruned');
    assert.equal(matchModel('models/Stable-diffusion/v1-5-pruned.ckpt', models), 'v1-5-pruned');
    assert.equal(matchModel('sdxl', models), null);
  });
});
