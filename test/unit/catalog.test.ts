import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CatalogError,
  findCatalogEntry,
  loadCatalog,
  parseCatalog,
  type CatalogEntry,
} from '../../server/src/models/catalog.js';

test('the shipped catalog is valid, with unique ids and every kind of model the brief asks for', async () => {
  const { models } = await loadCatalog();
  assert.equal(new Set(models.map((m) => m.id)).size, models.length);
  const sd = models.filter((m) => m.kind === 'stable-diffusion');
  assert.ok(sd.some((m) => !m.needsConversion), 'at least one Stable Diffusion model works as downloaded');
  assert.ok(sd.some((m) => m.family === 'sd1-inpainting'), 'an inpainting model');
  for (const kind of ['upscaler', 'vae-approx', 'nsfw'] as const) assert.ok(models.some((m) => m.kind === kind), kind);
  for (const m of models) {
    for (const f of m.files) assert.match(f.url, /^https:\/\/huggingface\.co\/[^/]+\/[^/]+\/resolve\/[^/]+\/.+/, `${m.id} ${f.path}`);
    assert.ok(m.sizeBytes >= m.files.reduce((sum, f) => sum + (f.size ?? 0), 0), `${m.id}: total below its known file sizes`);
  }
  assert.equal((await findCatalogEntry('sd-turbo'))?.licence.nonCommercial, true, 'SD-Turbo is non-commercial');
});

test('findCatalogEntry finds by id and answers undefined for an unknown one', async () => {
  assert.equal((await findCatalogEntry('sd15-onnx'))?.kind, 'stable-diffusion');
  assert.equal(await findCatalogEntry('no-such-model'), undefined);
});

const good: CatalogEntry = {
  id: 'good',
  kind: 'upscaler',
  name: 'Good',
  description: 'fine',
  format: 'onnx',
  needsConversion: false,
  licence: { id: 'MIT', name: 'MIT', url: 'https://example.com/licence', nonCommercial: false },
  sizeBytes: 10,
  homepage: 'https://example.com',
  files: [{ path: 'model.onnx', url: 'https://example.com/model.onnx', size: 10 }],
};

/** A catalog whose second entry is `good` changed by `edit`, so messages must name models[1]. */
function withSecond(edit: (entry: Record<string, unknown>) => void): unknown {
  const second = structuredClone(good) as unknown as Record<string, unknown>;
  edit(second);
  return { version: 1, models: [{ ...good, id: 'first' }, second] };
}

const file = (entry: Record<string, unknown>): Record<string, unknown> => (entry.files as Record<string, unknown>[])[0]!;

const cases: [string, (entry: Record<string, unknown>) => void, RegExp][] = [
  ['missing url', (e) => delete file(e).url, /^catalog entry "good" \(models\[1\]\): files\[0\]\.url is required$/],
  ['http url', (e) => (file(e).url = 'http://example.com/x'), /files\[0\]\.url must be an https URL/],
  ['unknown kind', (e) => (e.kind = 'lora'), /kind must be one of "stable-diffusion", "upscaler", "face-restore", "nsfw", "vae-approx"/],
  ['path escaping the folder', (e) => (file(e).path = '../evil.onnx'), /files\[0\]\.path must not contain empty, "\." or "\.\." parts/],
  ['absolute path', (e) => (file(e).path = '/etc/passwd'), /files\[0\]\.path must be relative/],
  ['made-up hash', (e) => (file(e).sha256 = 'abc'), /files\[0\]\.sha256 must be 64 lowercase hex digits/],
  ['negative size', (e) => (file(e).size = -1), /files\[0\]\.size must be at least 0/],
  ['no files', (e) => (e.files = []), /files must have at least 1 item/],
  ['licence without the commercial flag', (e) => delete (e.licence as Record<string, unknown>).nonCommercial, /licence\.nonCommercial is required/],
  ['conversion flag contradicting the format', (e) => (e.needsConversion = true), /needsConversion must be false for format "onnx"/],
  ['typo in a field name', (e) => (e.descripton = 'x'), /descripton is not a known field/],
  ['id that is not a folder name', (e) => (e.id = 'Bad Id'), /catalog entry "Bad Id" \(models\[1\]\): id must be 1-64 lowercase letters/],
  ['no id at all', (e) => delete e.id, /^catalog entry models\[1\]: id is required$/],
  ['the same file twice', (e) => (e.files = [file(e), file(e)]), /files\[1\]\.path "model\.onnx" is listed twice/],
];

for (const [what, edit, message] of cases) {
  test(`a bad entry (${what}) is rejected with a message naming the entry and the field`, () => {
    assert.throws(() => parseCatalog(withSecond(edit)), (error: unknown) => {
      assert.ok(error instanceof CatalogError);
      assert.match(error.message, message);
      return true;
    });
  });
}

test('duplicate ids name both entries', () => {
  assert.throws(() => parseCatalog({ version: 1, models: [good, good] }), /catalog entry "good" \(models\[1\]\): id "good" is already used by models\[0\]/);
});

test('a broken file says so: wrong version, not JSON', async () => {
  assert.throws(() => parseCatalog({ version: 2, models: [] }), /CatalogError: catalog: version must be one of 1$/);
  assert.throws(() => parseCatalog([]), /catalog: the file must be an object/);
  assert.throws(() => parseCatalog({ models: [] }), /CatalogError: catalog: version is required$/);
  const dir = await mkdtemp(join(tmpdir(), 'easel-catalog-'));
  try {
    await writeFile(join(dir, 'catalog.json'), '{ "version": 1, ');
    await assert.rejects(loadCatalog(join(dir, 'catalog.json')), /catalog\.json is not valid JSON/);
    await assert.rejects(loadCatalog(join(dir, 'absent.json')), /cannot read the model catalog/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
