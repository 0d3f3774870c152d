import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../server/src/config/config.js';

test('defaults: localhost:9000, models/ and data/ in the app folder, browser on', () => {
  const c = loadConfig([], {}, '/somewhere');
  assert.equal(c.port, 9000);
  assert.equal(c.host, '127.0.0.1');
  assert.match(c.modelsDir, /models$/);
  assert.match(c.outputsDir, /data\/outputs$/);
  assert.equal(c.openBrowser, true);
});

test('flags beat the environment, which beats the defaults', () => {
  const env = { EASEL_PORT: '9100', EASEL_HOST: '0.0.0.0', EASEL_MODELS: 'm-env', EASEL_NO_BROWSER: '1' };
  const c = loadConfig(['--port', '9200', '--models=/abs/models', '--data', 'rel'], env, '/base');
  assert.equal(c.port, 9200);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.modelsDir, '/abs/models');
  assert.equal(c.dataDir, '/base/rel');
  assert.equal(c.openBrowser, false);
  assert.equal(loadConfig(['--no-browser'], {}).openBrowser, false);
});

test('bad flags say what is wrong', () => {
  assert.throws(() => loadConfig(['--port', 'abc'], {}), /port must be a whole number/);
  assert.throws(() => loadConfig(['--bogus'], {}), /unknown option --bogus/);
  assert.throws(() => loadConfig(['--models'], {}), /--models needs a value/);
});
