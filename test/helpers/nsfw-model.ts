// A tiny ONNX model with the tensor contract of the catalog's ViT NSFW classifier (FaceFusion's nsfw_2.onnx):
// input `input` float32 [1, 3, 384, 384], output [1, 2] scores, NSFW first. Written with Easel's graph builder.
// Its answer is known: NSFW = the mean of the red plane, SFW = the mean of the blue plane (both in the model's
// (x/255 − 0.5)/0.5 range, so letterbox bars count as −1), plus a random patch convolution scaled by 1e-6 so the
// output depends on every input pixel as a real network's does. A red picture is flagged, a blue one is not.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder } from '../../server/src/convert/graph-builder.js';
import { writeModel } from '../../server/src/convert/onnx-proto.js';

export const TINY_VIT_SIDE = 384;

export async function writeTinyNsfwVit(file: string, opts: { outputName?: string } = {}): Promise<void> {
  const side = TINY_VIT_SIDE;
  const g = new GraphBuilder('tiny_nsfw_vit', { seed: 11 });
  const input = g.input('input', 'float32', [1, 3, side, side]);
  const flat = (value: string, channels: number) => g.op('Reshape', [g.op('GlobalAveragePool', [value]), g.constInt64([1, channels])]);
  // [mean R, mean B]: a fixed 3×2 projection of the channel means.
  const known = g.op('MatMul', [flat(input, 3), g.initializer('pick.weight', [3, 2], Float32Array.of(1, 0, 0, 0, 0, 1))]);
  const patches = g.op('Conv', [input, g.weight('patch.weight', [4, 3, 16, 16], { fanIn: 3 * 16 * 16 })], { strides: [16, 16], kernel_shape: [16, 16] });
  const head = g.op('MatMul', [flat(patches, 4), g.weight('head.weight', [4, 2], { fanIn: 4 })]);
  const scores = g.op('Add', [known, g.op('Mul', [head, g.constFloat([1e-6], [])])]);
  g.output(opts.outputName ?? 'output', 'float32', [1, 2], scores);
  await mkdir(join(file, '..'), { recursive: true });
  await writeModel(file, g.build());
}

/** Puts the tiny classifier where the catalog installs nsfw-marqo-384: `<models>/nsfw/nsfw-marqo-384/model.onnx`. */
export async function installTinyNsfwVit(modelsDir: string, opts: { outputName?: string } = {}): Promise<string> {
  const file = join(modelsDir, 'nsfw', 'nsfw-marqo-384', 'model.onnx');
  await writeTinyNsfwVit(file, opts);
  return file;
}
