// Face restoration: find faces (face-detect.ts), align each to the restorer's 512×512 FFHQ crop (face-align.ts),
// run GFPGAN 1.4 or CodeFormer (ONNX, `<models>/face-restore/<id>/model.onnx`) and blend the result back with a
// feathered edge, `strength` of the way. Restorer contract (FaceFusion's exports): input `input` float32
// [1, 3, 512, 512], RGB in [−1, 1]; output the same; CodeFormer has a second input, its fidelity weight w
// (0 = most restoration, 1 = closest to the input), a 1-element double or float.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tensorToRgb, type RgbImage } from '../images/encode.js';
import type { OnnxModel } from '../pipeline/onnx/onnx-session.js';
import { DEFAULT_FACE_DETECTOR, detectFaces, FACE_DETECTORS } from './face-detect.js';
import { estimateSimilarity, FACE_SIZE, FFHQ_TEMPLATE_512, pasteBack, warpToCrop, type Similarity } from './face-align.js';
import { FilterStopped, type FilterContext } from './filter.js';
import { filterModel } from './model-cache.js';

export interface FaceRestoreOptions {
  /** A restorer's catalog id; absent: GFPGAN 1.4, else CodeFormer, else the first installed. */
  model?: string | undefined;
  /** 0 leaves the picture as it was, 1 pastes the restored faces fully (A1111's "visibility"). Default 1. */
  strength?: number | undefined;
  /** CodeFormer's w; A1111's default is 0.5. */
  fidelity?: number | undefined;
}

const PREFERRED = ['gfpgan-1.4', 'codeformer'];
const modelPath = (modelsDir: string, id: string): string => join(modelsDir, 'face-restore', id, 'model.onnx');

/** Installed restorers (detectors left out), preferred first. */
export async function installedRestorers(modelsDir: string): Promise<string[]> {
  const entries = await readdir(join(modelsDir, 'face-restore'), { withFileTypes: true }).catch(() => []);
  const ids = entries
    .filter((e) => e.isDirectory() && !(FACE_DETECTORS as readonly string[]).includes(e.name) && existsSync(modelPath(modelsDir, e.name)))
    .map((e) => e.name)
    .sort();
  const rank = (id: string) => (PREFERRED.includes(id) ? PREFERRED.indexOf(id) : PREFERRED.length);
  return ids.sort((p, q) => rank(p) - rank(q));
}

async function requireModel(modelsDir: string, id: string, what: string): Promise<OnnxModel> {
  const path = modelPath(modelsDir, id);
  if (!existsSync(path)) throw new Error(`${what} "${id}" is not installed (${path}); download it from the model catalog`);
  return filterModel(path);
}

/** The restorer on one aligned crop. */
async function restoreCrop(model: OnnxModel, crop: RgbImage, fidelity: number): Promise<RgbImage> {
  const size = crop.width;
  const plane = size * size;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[c * plane + i] = (crop.pixels[i * 3 + c] as number) / 127.5 - 1;
  const [image, ...extra] = model.inputs;
  if (!image) throw new Error(`${model.path} has no inputs`);
  const feeds: Parameters<OnnxModel['run']>[0] = { [image.name]: { kind: 'float', dims: [1, 3, size, size], data } };
  for (const input of extra) {
    // CodeFormer's fidelity weight: shape [1] (or a scalar).
    feeds[input.name] = { kind: 'float', dims: input.shape.map(() => 1), data: Float32Array.of(fidelity) };
  }
  const outputs = await model.run(feeds);
  const out = outputs[model.outputs[0]?.name ?? ''] ?? Object.values(outputs)[0];
  if (!out || out.data.length !== 3 * plane) throw new Error(`${model.path}: expected a [1, 3, ${size}, ${size}] output`);
  return tensorToRgb(out.data, size, size);
}

/** The restorer's crop side: fixed in its input shape, else 512. */
function cropSize(model: OnnxModel): number {
  const side = model.inputs[0]?.shape[2];
  return typeof side === 'number' && side > 0 ? side : FACE_SIZE;
}

export async function restoreFaces(image: RgbImage, opts: FaceRestoreOptions, ctx: FilterContext): Promise<RgbImage> {
  const strength = Math.min(1, Math.max(0, opts.strength ?? 1));
  if (strength === 0) return image;
  const id = opts.model ?? (await installedRestorers(ctx.modelsDir))[0];
  if (!id) throw new Error('no face restoration model is installed; download GFPGAN 1.4 or CodeFormer from the model catalog');
  const restorer = await requireModel(ctx.modelsDir, id, 'face restoration model');
  const detector = await requireModel(ctx.modelsDir, DEFAULT_FACE_DETECTOR, 'face detector');
  const faces = await detectFaces(detector, image);
  const total = faces.length + 1;
  ctx.onProgress?.(1, total);
  const size = cropSize(restorer);
  const template = FFHQ_TEMPLATE_512.map((p) => ({ x: (p.x * size) / FACE_SIZE, y: (p.y * size) / FACE_SIZE }));
  let result = image;
  for (const [n, face] of faces.entries()) {
    if (ctx.shouldStop?.()) throw new FilterStopped();
    const toCrop: Similarity = estimateSimilarity(face.landmarks, template);
    const restored = await restoreCrop(restorer, warpToCrop(result, toCrop, size), opts.fidelity ?? 0.5);
    result = pasteBack(result, restored, toCrop, strength, size / 10);
    ctx.onProgress?.(n + 2, total);
  }
  return result;
}

