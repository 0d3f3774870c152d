// Filter models stay loaded between jobs (a chain runs the same few models again and again); the least recently
// used is released once more than a handful are open, so a user trying every upscaler does not pile up sessions.
import { availableParallelism } from 'node:os';
import type { OnnxModel } from '../pipeline/onnx/onnx-session.js';

const MAX_OPEN = 3;
const open = new Map<string, Promise<OnnxModel>>();

export async function filterModel(path: string): Promise<OnnxModel> {
  let model = open.get(path);
  if (model) {
    open.delete(path); // re-inserted below: Map order is the recency order
  } else {
    // Imported on first use, so the main thread can use filter modules' plain helpers without loading onnxruntime.
    model = import('../pipeline/onnx/onnx-session.js').then((m) => m.OnnxModel.load(path, { threads: availableParallelism() }));
    model.catch(() => open.delete(path));
  }
  open.set(path, model);
  while (open.size > MAX_OPEN) {
    const [oldest, loaded] = open.entries().next().value as [string, Promise<OnnxModel>];
    open.delete(oldest);
    void loaded.then((m) => m.release(), () => undefined);
  }
  return model;
}

export async function releaseFilterModels(): Promise<void> {
  const all = [...open.values()];
  open.clear();
  await Promise.all(all.map((m) => m.then((x) => x.release(), () => undefined)));
}
