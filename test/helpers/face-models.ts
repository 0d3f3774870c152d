// Tiny ONNX models with the tensor contracts of the face-restoration models, written with Easel's graph builder:
// a YuNet-shaped detector whose answer is known (one face, fixed anchor values, plus a random convolution of the
// input scaled by 1e-6 so every output depends on the input's size), and random-weight restorers shaped like
// GFPGAN 1.4 (`input` → `output`, [1, 3, 512, 512]) and CodeFormer (plus a fidelity `weight` input).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder } from '../../server/src/convert/graph-builder.js';
import { writeModel } from '../../server/src/convert/onnx-proto.js';
import type { Point } from '../../server/src/filters/face-align.js';

const STRIDES = [8, 16, 32] as const;
const CHANNELS = { cls: 1, obj: 1, bbox: 4, kps: 10 } as const;

/** A detector model for a [1, 3, side, side] input that reports one face, with these landmarks, in input pixels. */
export async function writeTinyDetector(file: string, side: number, face: { landmarks: Point[]; box: { x: number; y: number; width: number; height: number } }): Promise<void> {
  const g = new GraphBuilder('tiny_yunet', { seed: 3 });
  const input = g.input('input', 'float32', [1, 3, side, side]);
  // The face's anchor: stride 8, the cell holding the box centre.
  const cx = face.box.x + face.box.width / 2;
  const cy = face.box.y + face.box.height / 2;
  const [col, row] = [Math.floor(cx / 8), Math.floor(cy / 8)];
  for (const stride of STRIDES) {
    const cells = side / stride;
    for (const [name, channels] of Object.entries(CHANNELS)) {
      const values = new Float32Array(cells * cells * channels);
      if (stride === 8) {
        const at = (row * cells + col) * channels;
        if (name === 'cls' || name === 'obj') values[at] = 0.95;
        if (name === 'bbox') values.set([cx / 8 - col, cy / 8 - row, Math.log(face.box.width / 8), Math.log(face.box.height / 8)], at);
        if (name === 'kps') face.landmarks.forEach((p, k) => values.set([p.x / 8 - col, p.y / 8 - row], at + 2 * k));
      }
      const weight = g.weight(`${name}_${stride}.weight`, [channels, 3, stride, stride], { fanIn: 3 * stride * stride });
      const conv = g.op('Conv', [input, weight], { strides: [stride, stride], kernel_shape: [stride, stride] });
      const flat = g.op('Reshape', [g.op('Transpose', [conv], { perm: [0, 2, 3, 1] }), g.constInt64([1, cells * cells, channels])]);
      const small = g.op('Mul', [flat, g.constFloat([1e-6], [])]);
      const known = g.initializer(`${name}_${stride}.known`, [1, cells * cells, channels], values);
      g.output(`${name}_${stride}`, 'float32', [1, cells * cells, channels], g.op('Add', [small, known]));
    }
  }
  await mkdir(join(file, '..'), { recursive: true });
  await writeModel(file, g.build());
}

/** A restorer with GFPGAN's contract, or CodeFormer's with `fidelityInput`: out = tanh(x + conv(x)·(1 − w)). */
export async function writeTinyRestorer(file: string, opts: { fidelityInput?: boolean; seed?: number } = {}): Promise<void> {
  const g = new GraphBuilder('tiny_restorer', { seed: opts.seed ?? 5 });
  const input = g.input('input', 'float32', [1, 3, 512, 512]);
  const weight = g.weight('conv.weight', [3, 3, 3, 3], { fanIn: 27, gain: 0.5 });
  const bias = g.weight('conv.bias', [3], { fanIn: 1, gain: 0.2 });
  let delta = g.op('Conv', [input, weight, bias], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
  if (opts.fidelityInput) {
    const w = g.input('weight', 'float32', [1]);
    delta = g.op('Mul', [delta, g.op('Sub', [g.constFloat([1], []), w])]);
  }
  g.output('output', 'float32', [1, 3, 512, 512], g.op('Tanh', [g.op('Add', [input, delta])]));
  await mkdir(join(file, '..'), { recursive: true });
  await writeModel(file, g.build());
}
