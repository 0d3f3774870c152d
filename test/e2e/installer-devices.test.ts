// /api/health names the execution provider the render worker really uses, and why: CUDA only when its libraries
// are installed and a tiny session runs on it, else the CPU with the reason a user can act on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseExecutionProvider,
  runProbe,
  systemFacts,
  type ProviderFacts,
} from '../../server/src/pipeline/onnx/execution-provider.ts';
import { startTestServer } from '../helpers/easel-server.ts';

function facts(overrides: Partial<ProviderFacts>): ProviderFacts {
  return {
    platform: 'linux-x64',
    cudaLibrariesInstalled: () => false,
    nvidiaGpu: () => undefined,
    tryCuda: async () => {
      throw new Error('tryCuda should not be called here');
    },
    ...overrides,
  };
}

test('the CUDA probe model is a valid ONNX graph (y = x + x) for the real onnxruntime', async () => {
  assert.equal(await runProbe(['cpu']), 3);
});

test('the provider and its reason follow the machine', async () => {
  const noGpu = await chooseExecutionProvider(facts({}));
  assert.deepEqual(noGpu, { providers: ['cpu'], device: { id: 'cpu', name: 'CPU', reason: 'CPU: no NVIDIA GPU found' } });

  const noLibraries = await chooseExecutionProvider(facts({ nvidiaGpu: () => 'Test GPU' }));
  assert.deepEqual(noLibraries.providers, ['cpu']);
  assert.match(noLibraries.device.reason, /^CPU: NVIDIA GPU found \(Test GPU\), but onnxruntime's CUDA libraries are not installed/);

  const broken = await chooseExecutionProvider(
    facts({
      cudaLibrariesInstalled: () => true,
      nvidiaGpu: () => 'Test GPU',
      tryCuda: async () => {
        throw new Error('libcudnn.so.9: cannot open shared object file\n\x1b[1;31mlog noise\x1b[m');
      },
    }),
  );
  assert.deepEqual(broken.providers, ['cpu']);
  assert.equal(broken.device.reason, "CPU: onnxruntime's CUDA provider could not run a session: libcudnn.so.9: cannot open shared object file");

  const cuda = await chooseExecutionProvider(facts({ cudaLibrariesInstalled: () => true, nvidiaGpu: () => 'Test GPU', tryCuda: async () => {} }));
  assert.deepEqual(cuda, {
    providers: ['cuda', 'cpu'],
    device: { id: 'cuda', name: 'CUDA (Test GPU)', reason: "CUDA: onnxruntime's CUDA provider runs on Test GPU" },
  });

  const mac = await chooseExecutionProvider(facts({ platform: 'darwin-arm64', cudaLibrariesInstalled: () => true }));
  assert.deepEqual(mac.providers, ['cpu']);
  assert.match(mac.device.reason, /^CPU: .* on darwin-arm64/);
});

test('/api/health reports the device the render worker chose', async () => {
  const server = await startTestServer();
  try {
    type Health = { devices: { id: string; name: string; reason: string }[] };
    let health: Health = { devices: [] };
    // The worker reports its device once it has chosen one.
    for (let i = 0; i < 200 && health.devices.length === 0; i++) {
      health = (await (await fetch(`${server.url}/api/health`)).json()) as Health;
      if (health.devices.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    const expected = await chooseExecutionProvider();
    assert.deepEqual(health.devices, [expected.device]);
    const machine = systemFacts();
    if (!machine.cudaLibrariesInstalled() && !machine.nvidiaGpu()) {
      assert.deepEqual(health.devices, [{ id: 'cpu', name: 'CPU', reason: 'CPU: no NVIDIA GPU found' }]);
    }
  } finally {
    await server.close();
  }
});
