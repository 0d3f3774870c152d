// CLI: imports an SD 1.x/2.x checkpoint into the diffusers ONNX layout.
//   node server/dist/convert/import-cli.js <model.safetensors | diffusers-folder> <outDir> [options]
import { parseArgs } from 'node:util';
import { importCheckpoint } from './import-checkpoint.js';
import type { PredictionType } from './import-checkpoint.js';

const USAGE = `usage: node server/dist/convert/import-cli.js <source> <outDir> [options]
  <source>   an original-layout .safetensors checkpoint (SD 1.x / 2.x, incl. inpainting) or a diffusers folder
  <outDir>   the diffusers ONNX folder to create (e.g. models/stable-diffusion/<name>)
options:
  --config DIR        diffusers folder with config.json per component, scheduler/ and tokenizer/ (needed for the
                      tokenizer of a single-file checkpoint; missing config.json files fall back to SD 1.5 / 2.1)
  --prediction TYPE   epsilon | v_prediction (default: config folder, v_pred key, .yaml beside the file, family)
  --vae-encoder KIND  mean (default) | sample
  --fp16              float16 weights and compute with float32 inputs/outputs, for GPUs (half the size; CPUs run
                      fp32 faster)
  --plain-attention   plain MatMul/Softmax attention instead of onnxruntime's fused MultiHeadAttention (for other
                      ONNX runtimes; onnxruntime needs more memory with it)
  --name NAME         recorded in model_index.json
  --overwrite         replace <outDir> if it exists`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      prediction: { type: 'string' },
      'vae-encoder': { type: 'string' },
      'plain-attention': { type: 'boolean' },
      fp16: { type: 'boolean' },
      name: { type: 'string' },
      overwrite: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 2) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const prediction = values.prediction;
  if (prediction !== undefined && prediction !== 'epsilon' && prediction !== 'v_prediction') {
    throw new Error(`--prediction must be epsilon or v_prediction, got "${prediction}"`);
  }
  const encoder = values['vae-encoder'];
  if (encoder !== undefined && encoder !== 'mean' && encoder !== 'sample') {
    throw new Error(`--vae-encoder must be mean or sample, got "${encoder}"`);
  }
  const start = performance.now();
  let lastLine = '';
  const result = await importCheckpoint({
    source: positionals[0],
    outDir: positionals[1],
    configDir: values.config,
    name: values.name,
    predictionType: prediction as PredictionType | undefined,
    vaeEncoderOutput: encoder,
    fusedAttention: !values['plain-attention'],
    precision: values.fp16 ? 'fp16' : 'fp32',
    overwrite: values.overwrite,
    onProgress: ({ stage, done, total }) => {
      if (!process.stderr.isTTY) {
        if (done === total) process.stderr.write(`${stage} done\n`);
        return;
      }
      const line = `${stage} ${total > 0 ? Math.floor((100 * done) / total) : 100}%`;
      if (line !== lastLine) process.stderr.write(`\r${line.padEnd(24)}`);
      lastLine = line;
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.log(`${result.description}, ${result.predictionType}, ${result.precision} → ${result.outDir} (${((performance.now() - start) / 1000).toFixed(1)} s)`);
  for (const warning of result.warnings) console.log(`warning: ${warning}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
