// One tiny random-weight model per test process, written once to a temp folder and shared by the tests in it.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '../../server/src/convert/tiny-model.js';

let store: Promise<{ modelsDir: string; modelId: string; modelDir: string }> | undefined;

export const TEST_MODEL_ID = 'tiny-test';

/** A model store `<modelsDir>/stable-diffusion/tiny-test/` holding the generated test model. */
export function tinyModelStore(): Promise<{ modelsDir: string; modelId: string; modelDir: string }> {
  store ??= (async () => {
    const modelsDir = await mkdtemp(join(tmpdir(), 'easel-models-'));
    const modelDir = join(modelsDir, 'stable-diffusion', TEST_MODEL_ID);
    await writeTinyModel(modelDir, { seed: 1 });
    return { modelsDir, modelId: TEST_MODEL_ID, modelDir };
  })();
  return store;
}
