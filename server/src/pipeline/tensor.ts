// A thin tensor: what crosses between the pipeline and the onnx module. No proxies, no hidden copies.
export type TensorType = 'float32' | 'float16' | 'int32' | 'int64';

export interface FloatTensor {
  type: 'float32';
  dims: number[];
  data: Float32Array;
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

export function floatTensor(dims: number[], data?: Float32Array): FloatTensor {
  const size = elementCount(dims);
  if (data && data.length !== size) {
    throw new Error(`tensor data has ${data.length} values, dims [${dims.join(', ')}] need ${size}`);
  }
  return { type: 'float32', dims, data: data ?? new Float32Array(size) };
}

/** Concatenates tensors along the first (batch) axis. */
export function catBatch(parts: readonly FloatTensor[]): FloatTensor {
  const first = parts[0];
  if (!first) throw new Error('catBatch needs at least one tensor');
  const rest = first.dims.slice(1).join(',');
  for (const p of parts) {
    if (p.dims.slice(1).join(',') !== rest) throw new Error('catBatch: tensors differ beyond the batch axis');
  }
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let offset = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.data.length;
  }
  return floatTensor([parts.reduce((n, p) => n + (p.dims[0] ?? 1), 0), ...first.dims.slice(1)], data);
}
