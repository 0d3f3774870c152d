import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { encodeImage } from '../../server/src/images/encode.js';
import { buildExifUserComment, fitInfotext, JPEG_USER_COMMENT_CHARS, readExifText } from '../../server/src/images/exif.js';
import { extractExif } from '../../server/src/images/exif-container.js';
import { formatInfotext } from '../../server/src/images/infotext.js';
import { parseImageMetadata, parseInfotext } from '../../server/src/images/metadata-parse.js';
import { addPngText } from '../../server/src/images/png-text.js';

const written = {
  prompt: 'a café in 東京, (masterpiece:1.2) 😀\nsecond line',
  negativePrompt: 'blurry, "bad" hands',
  steps: 23,
  sampler: 'Euler a',
  cfgScale: 6.5,
  seed: 4_294_967_295,
  width: 768,
  height: 512,
  model: 'my, model',
  version: '0.1.0',
  strength: 0.55,
};
const image = { width: 24, height: 16, pixels: new Uint8Array(24 * 16 * 3).map((_, i) => (i * 13) % 256) };
const expectedFields = {
  prompt: written.prompt,
  negativePrompt: written.negativePrompt,
  steps: 23,
  sampler: 'euler_a',
  samplerName: 'Euler a',
  cfgScale: 6.5,
  seed: 4_294_967_295,
  width: 768,
  height: 512,
  model: 'my, model',
  strength: 0.55,
};

test('every field Easel writes reads back from PNG, JPEG and WebP', async () => {
  const parameters = formatInfotext(written);
  const easel = JSON.stringify({ ...written, sampler: 'euler_a', app: 'easel' });
  for (const format of ['png', 'jpeg', 'webp'] as const) {
    const file = await encodeImage(image, format, 90, { parameters, easel });
    const info = parseImageMetadata(file);
    assert.equal(info.parameters, parameters, `${format}: the infotext comes back byte for byte`);
    assert.equal(info.source, format === 'png' ? 'easel' : 'a1111');
    // The `easel` chunk names the sampler by id; the infotext by A1111's display name.
    assert.deepEqual(info.fields, { ...expectedFields, samplerName: format === 'png' ? 'euler_a' : 'Euler a' }, format);
    assert.equal(info.params['RNG'], 'CPU');
    assert.equal(info.params['Version'], 'Easel 0.1.0');
    assert.equal(info.params['Size-1'], '768');
    assert.ok(!('Size' in info.params), 'A1111 keeps only Size-1 and Size-2 for WxH values');
  }
});

test('JPEG and WebP carry the infotext as A1111 writes it: big-endian EXIF, "UNICODE\\0" + UTF-16BE', async () => {
  const text = 'prompt é 東\nSteps: 1, Sampler: Euler, CFG scale: 7';
  for (const format of ['jpeg', 'webp'] as const) {
    const file = await encodeImage(image, format, 80, { parameters: text, easel: '{}' });
    const exif = extractExif(file) as Buffer;
    assert.equal(exif.toString('latin1', 0, 2), 'MM');
    const at = exif.indexOf('UNICODE\0', 0, 'latin1');
    assert.ok(at > 0);
    assert.equal(exif.subarray(at + 8).toString('hex'), Buffer.from(text, 'utf16le').swap16().toString('hex'));
    const meta = await sharp(file).metadata();
    assert.deepEqual([meta.width, meta.height, Boolean(meta.exif)], [24, 16, true], `${format} still decodes and shows its EXIF`);
  }
});

test('an infotext too long for a JPEG segment keeps its parameter line', async () => {
  const long = `${'word '.repeat(20_000)}\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1`;
  const fitted = fitInfotext(long, JPEG_USER_COMMENT_CHARS);
  assert.ok(fitted.length <= JPEG_USER_COMMENT_CHARS);
  const file = await encodeImage(image, 'jpeg', 80, { parameters: long, easel: '{}' });
  assert.equal(parseImageMetadata(file).fields.seed, 1);
});

test("A1111's infotext rules: ≥3 pairs make a parameter line, quoted values, WxH, multi-line negative prompt", () => {
  assert.deepEqual(parseInfotext('just a prompt\nSteps: 20, Seed: 1'), { prompt: 'just a prompt\nSteps: 20, Seed: 1', negativePrompt: '', params: {} });
  const parsed = parseInfotext(
    'line one\nline two\nNegative prompt: bad\nworse\nSteps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5, Seed: 7, Size: 640x448, Model: "a, b: c", Hires upscale: 2',
  );
  assert.equal(parsed.prompt, 'line one\nline two');
  assert.equal(parsed.negativePrompt, 'bad\nworse');
  assert.equal(parsed.params['Model'], 'a, b: c');
  assert.deepEqual([parsed.params['Size-1'], parsed.params['Size-2']], ['640', '448']);
  assert.equal(parsed.params['Hires upscale'], '2');
});

async function plainPng(): Promise<Buffer> {
  return sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).png().toBuffer();
}

test('A1111 1.9 splits "DPM++ 2M Karras" into Sampler and Schedule type; both map to one Easel sampler', async () => {
  const png = addPngText(await plainPng(), { parameters: 'p\nSteps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5, Seed: 7' });
  assert.deepEqual(parseImageMetadata(png).fields, { prompt: 'p', negativePrompt: '', steps: 30, samplerName: 'DPM++ 2M Karras', sampler: 'dpmpp_2m_karras', cfgScale: 5, seed: 7 });
});

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  return out; // CRC left zero: the reader does not check it
}

test('compressed zTXt and iTXt chunks are read', async () => {
  const png = await plainPng();
  const z = chunk('zTXt', Buffer.concat([Buffer.from('parameters\0\0', 'latin1'), deflateSync(Buffer.from('zipped\nSteps: 5, Sampler: Euler, CFG scale: 7', 'latin1'))]));
  const i = chunk('iTXt', Buffer.concat([Buffer.from('invokeai_metadata\0\x01\0en\0\0', 'latin1'), deflateSync(Buffer.from('{"positive_prompt":"猫"}'))]));
  const withChunks = Buffer.concat([png.subarray(0, 33), z, i, png.subarray(33)]);
  const info = parseImageMetadata(withChunks);
  assert.equal(info.parameters, 'zipped\nSteps: 5, Sampler: Euler, CFG scale: 7');
  assert.equal(info.items['invokeai_metadata'], '{"positive_prompt":"猫"}');
});

test('InvokeAI metadata maps onto Easel names, "_k" schedulers onto Karras samplers', async () => {
  const meta = { positive_prompt: 'a fox', negative_prompt: 'dull', width: 640, height: 512, seed: 99, steps: 25, cfg_scale: 6, scheduler: 'dpmpp_2m_k', model: { name: 'sd-1.5', base: 'sd-1' } };
  const info = parseImageMetadata(addPngText(await plainPng(), { invokeai_metadata: JSON.stringify(meta) }));
  assert.equal(info.source, 'invokeai');
  assert.deepEqual(info.fields, { prompt: 'a fox', negativePrompt: 'dull', steps: 25, samplerName: 'dpmpp_2m_karras', sampler: 'dpmpp_2m_karras', cfgScale: 6, seed: 99, width: 640, height: 512, model: 'sd-1.5' });
});

const comfyPrompt = {
  '3': { class_type: 'KSampler', inputs: { seed: 156680208700286, steps: 20, cfg: 8, sampler_name: 'euler_ancestral', scheduler: 'normal', denoise: 1, model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] } },
  '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5-pruned-emaonly.safetensors' } },
  '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 768, batch_size: 1 } },
  '6': { class_type: 'CLIPTextEncode', inputs: { text: 'beautiful scenery', clip: ['4', 1] } },
  '7': { class_type: 'CLIPTextEncode', inputs: { text: 'text, watermark', clip: ['4', 1] } },
  '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
};
const comfyFields = { prompt: 'beautiful scenery', negativePrompt: 'text, watermark', seed: 156680208700286, steps: 20, cfgScale: 8, samplerName: 'euler_ancestral', sampler: 'euler_a', width: 512, height: 768, model: 'v1-5-pruned-emaonly.safetensors' };

test('ComfyUI: the API-format prompt graph gives the KSampler settings and the wired prompts', async () => {
  const info = parseImageMetadata(addPngText(await plainPng(), { prompt: JSON.stringify(comfyPrompt), workflow: '{}' }));
  assert.equal(info.source, 'comfyui');
  assert.deepEqual(info.fields, comfyFields);
});

test('ComfyUI: the UI-format workflow alone gives the same settings from widget values and links', async () => {
  const workflow = {
    nodes: [
      { id: 3, type: 'KSampler', inputs: [{ name: 'model', link: 1 }, { name: 'positive', link: 4 }, { name: 'negative', link: 6 }, { name: 'latent_image', link: 2 }], widgets_values: [156680208700286, 'randomize', 20, 8, 'dpmpp_2m', 'karras', 1] },
      { id: 4, type: 'CheckpointLoaderSimple', inputs: [], widgets_values: ['v1-5-pruned-emaonly.safetensors'] },
      { id: 5, type: 'EmptyLatentImage', inputs: [], widgets_values: [512, 768, 1] },
      { id: 6, type: 'CLIPTextEncode', inputs: [{ name: 'clip', link: 3 }], widgets_values: ['beautiful scenery'] },
      { id: 7, type: 'CLIPTextEncode', inputs: [{ name: 'clip', link: 5 }], widgets_values: ['text, watermark'] },
    ],
    links: [[1, 4, 0, 3, 0, 'MODEL'], [2, 5, 0, 3, 3, 'LATENT'], [3, 4, 1, 6, 0, 'CLIP'], [4, 6, 0, 3, 1, 'CONDITIONING'], [5, 4, 1, 7, 0, 'CLIP'], [6, 7, 0, 3, 2, 'CONDITIONING']],
  };
  const info = parseImageMetadata(addPngText(await plainPng(), { workflow: JSON.stringify(workflow) }));
  assert.deepEqual(info.fields, { ...comfyFields, samplerName: 'dpmpp_2m_karras', sampler: 'dpmpp_2m_karras' });
});

test("ComfyUI's WebP keeps its graphs in EXIF Make/Model as keyword:json; libvips' ASCII UserComment reads too", async () => {
  const webp = await sharp(await plainPng())
    .webp()
    .withExif({ IFD0: { Make: `workflow:{}`, Model: `prompt:${JSON.stringify(comfyPrompt)}` }, IFD2: { UserComment: 'plain\nSteps: 3, Sampler: Euler, CFG scale: 2' } })
    .toBuffer();
  const info = parseImageMetadata(webp);
  assert.equal(info.parameters, 'plain\nSteps: 3, Sampler: Euler, CFG scale: 2', 'libvips writes little-endian, "ASCII\\0\\0\\0"');
  assert.equal(info.items['prompt'], JSON.stringify(comfyPrompt));
  assert.equal(info.source, 'a1111');
});

test('UserComment in a little-endian EXIF with UTF-16 in either byte order decodes', () => {
  const be = buildExifUserComment('Grüße 東京');
  assert.equal(readExifText(be).userComment, 'Grüße 東京');
  // The same structure rewritten little-endian, text UTF-16LE (as a byte-order-following writer would).
  const le = Buffer.from(be);
  le.write('II', 0, 'latin1');
  le.writeUInt16LE(42, 2);
  le.writeUInt32LE(8, 4);
  for (const ifd of [8, 26]) {
    le.writeUInt16LE(1, ifd);
    le.writeUInt16LE(be.readUInt16BE(ifd + 2), ifd + 2);
    le.writeUInt16LE(be.readUInt16BE(ifd + 4), ifd + 4);
    le.writeUInt32LE(be.readUInt32BE(ifd + 6), ifd + 6);
    le.writeUInt32LE(be.readUInt32BE(ifd + 10), ifd + 10);
  }
  Buffer.from('Grüße 東京', 'utf16le').copy(le, 52);
  assert.equal(readExifText(le).userComment, 'Grüße 東京');
});

test('an image without metadata gives nulls, not an error', async () => {
  const info = parseImageMetadata(await plainPng());
  assert.deepEqual(info, { parameters: null, source: null, fields: {}, params: {}, items: {} });
  assert.deepEqual(parseImageMetadata(await sharp(await plainPng()).jpeg().toBuffer()).fields, {});
});
