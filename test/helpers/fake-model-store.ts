// A model store whose model folders have the diffusers layout but no networks: enough for the registry and
// request validation, which never load a session.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function fakeModelStore(names: string[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'easel-fake-models-'));
  for (const name of names) {
    const dir = join(root, 'stable-diffusion', name);
    for (const c of ['tokenizer', 'text_encoder', 'unet', 'vae_decoder', 'scheduler']) await mkdir(join(dir, c), { recursive: true });
    await writeFile(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'OnnxStableDiffusionPipeline' }));
    await writeFile(join(dir, 'tokenizer', 'special_tokens_map.json'), JSON.stringify({ pad_token: '<|endoftext|>' }));
  }
  return root;
}
