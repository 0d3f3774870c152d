// The user settings file: defaults when absent, validated, written whole (temp file + rename), and a broken file
// moved aside instead of stopping Easel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSettings, SettingsStore } from '../../server/src/settings/settings-store.js';

async function folder(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'easel-settings-'));
}

test('no file: defaults, with sharing off; nothing is written until something changes', async () => {
  const dir = await folder();
  const store = new SettingsStore(dir);
  assert.deepEqual(store.current, defaultSettings());
  assert.deepEqual(await readdir(dir), []);
  await rm(dir, { recursive: true });
});

test('an update is validated, written with owner-only permissions, and read back by the next start', async () => {
  const dir = await folder();
  const store = new SettingsStore(dir);
  await store.update((s) => {
    s.sharing.enabled = true;
  });
  assert.equal(store.current.sharing.enabled, true);
  assert.deepEqual(await readdir(dir), ['settings.json'], 'no temp file left behind');
  if (process.platform !== 'win32') assert.equal((await stat(join(dir, 'settings.json'))).mode & 0o777, 0o600);
  assert.equal(new SettingsStore(dir).current.sharing.enabled, true);

  await assert.rejects(
    store.update((s) => {
      (s.sharing as { enabled: unknown }).enabled = 'yes';
    }),
    /settings not saved: \/sharing\/enabled/,
  );
  assert.equal(store.current.sharing.enabled, true, 'a refused update changes nothing');
  await rm(dir, { recursive: true });
});

test('updates run one after another, each on the last one’s result', async () => {
  const dir = await folder();
  const store = new SettingsStore(dir);
  await Promise.all(
    ['a', 'b', 'c'].map((name) =>
      store.update((s) => {
        s.auth.tokens.push({ id: name, name, hash: '0'.repeat(64), createdAt: 'now' });
      }),
    ),
  );
  assert.deepEqual(new SettingsStore(dir).current.auth.tokens.map((t) => t.id), ['a', 'b', 'c']);
  await rm(dir, { recursive: true });
});

test('sections other features add are kept; missing fields get defaults', async () => {
  const dir = await folder();
  await writeFile(join(dir, 'settings.json'), JSON.stringify({ version: 1, sharing: { enabled: true }, theme: { dark: true } }));
  const store = new SettingsStore(dir);
  assert.deepEqual(store.current.sharing, { enabled: true, requireLoginOnLoopback: false });
  assert.deepEqual([store.current.filters, store.current.performance], [{ forceNsfwFilter: false, nsfwModel: 'auto' }, { lowMemory: 'auto', optimizedModelCache: true }], 'server settings an older file lacks');
  await store.update((s) => {
    s.sharing.requireLoginOnLoopback = true;
  });
  const saved = JSON.parse(await readFile(join(dir, 'settings.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(saved.theme, { dark: true });
  await rm(dir, { recursive: true });
});

test('a broken file is moved aside with a warning, and Easel starts with sharing off', async () => {
  const dir = await folder();
  await writeFile(join(dir, 'settings.json'), '{"version": 1, "sharing": {"enabled": tru');
  const warnings: string[] = [];
  const store = new SettingsStore(dir, (m) => warnings.push(m));
  assert.equal(store.current.sharing.enabled, false);
  assert.match(warnings[0] ?? '', /could not be used .* moved to .*settings\.json\.invalid-/);
  const files = await readdir(dir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^settings\.json\.invalid-/);

  await writeFile(join(dir, 'settings.json'), JSON.stringify({ version: 1, auth: { password: 'plain text' } }));
  new SettingsStore(dir, (m) => warnings.push(m));
  assert.match(warnings[1] ?? '', /\/auth\/password/);
  await rm(dir, { recursive: true });
});

test("an unknown value in the owner's filters or performance costs only that field; an enforced NSFW check fails closed", async () => {
  const dir = await folder();
  const tokens = [{ id: 't1', name: 'phone', hash: 'a'.repeat(64), createdAt: '2026-11-27T00:00:00Z' }];
  await writeFile(
    join(dir, 'settings.json'),
    JSON.stringify({
      version: 1,
      sharing: { enabled: true, requireLoginOnLoopback: false },
      auth: { password: null, tokens },
      filters: { forceNsfwFilter: 'yes', nsfwModel: 'nsfw-from-the-future' },
      performance: { lowMemory: 'sometimes', optimizedModelCache: false },
    }),
  );
  const warnings: string[] = [];
  const store = new SettingsStore(dir, (m) => warnings.push(m));
  assert.deepEqual(store.current.filters, { forceNsfwFilter: true, nsfwModel: 'auto' }, 'not a clean false: the check stays enforced');
  assert.deepEqual(store.current.performance, { lowMemory: 'auto', optimizedModelCache: false });
  assert.equal(store.current.sharing.enabled, true, 'sharing, password and tokens are kept');
  assert.deepEqual(store.current.auth.tokens, tokens);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /filters\.forceNsfwFilter, filters\.nsfwModel, performance\.lowMemory/);
  assert.deepEqual(await readdir(dir), ['settings.json'], 'nothing was moved aside');
  await rm(dir, { recursive: true });
});
