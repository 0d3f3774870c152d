// Counts the multiply-adds of a graph the builder emits, by walking its nodes with concrete input shapes — the
// work a step really asks of the CPU, for the compute-efficiency benchmark. Shapes are propagated through every op
// the builders use; small integer tensors (Shape → Gather → Concat → Reshape chains) are evaluated, because
// reshapes take their targets from them. An op it does not know is an error, not a silent zero.
import type { ModelDef, NodeDef, TensorInit } from '../convert/onnx-proto.js';

export interface FlopCount {
  /** 2 × multiply-adds, by kind: convolutions, MatMuls against a weight, and activation × activation (attention). */
  conv: number;
  linear: number;
  attention: number;
  total: number;
}

interface Value {
  shape: number[];
  /** Known element values: integer shape arithmetic and small constants. */
  data?: number[];
  /** An initializer: a MatMul against one is a linear layer. */
  weight?: boolean;
}

const SMALL = 64;

export function countFlops(model: ModelDef, inputs: Record<string, readonly number[]>): FlopCount {
  const values = new Map<string, Value>();
  for (const init of model.graph.initializers) values.set(init.name, initializerValue(init));
  for (const input of model.graph.inputs) {
    const shape = inputs[input.name];
    if (!shape) throw new Error(`countFlops: no shape given for input "${input.name}"`);
    values.set(input.name, { shape: [...shape] });
  }
  const count: FlopCount = { conv: 0, linear: 0, attention: 0, total: 0 };
  for (const node of model.graph.nodes) {
    const ins = node.inputs.map((name) => (name === '' ? undefined : values.get(name)));
    node.inputs.forEach((name, i) => {
      if (name !== '' && !ins[i]) throw new Error(`countFlops: ${node.name ?? node.opType} reads "${name}" before it is produced`);
    });
    const outs = infer(node, ins, count);
    node.outputs.forEach((name, i) => {
      const v = outs[i];
      if (v) values.set(name, v);
    });
  }
  count.total = count.conv + count.linear + count.attention;
  return count;
}

function initializerValue(init: TensorInit): Value {
  const shape = [...init.dims];
  const size = product(shape);
  // Lazy initializers are weights; reading them here would load gigabytes.
  if (typeof init.data === 'function' || size > SMALL) return { shape, weight: true };
  return { shape, data: Array.from(init.data as ArrayLike<number | bigint>, Number), weight: true };
}

function infer(node: NodeDef, ins: (Value | undefined)[], count: FlopCount): Value[] {
  const a = (i: number): Value => {
    const v = ins[i];
    if (!v) throw new Error(`countFlops: ${node.opType} needs input ${i}`);
    return v;
  };
  const attrs = node.attributes ?? {};
  const int = (key: string, fallback: number): number => {
    const at = attrs[key];
    return at && at.type === 'int' ? at.value : fallback;
  };
  const ints = (key: string): number[] | undefined => {
    const at = attrs[key];
    return at && at.type === 'ints' ? [...at.value] : undefined;
  };
  switch (node.opType) {
    case 'Conv': {
      const [n, c, ...spatial] = a(0).shape as [number, number, ...number[]];
      const [o, cg, ...kernel] = a(1).shape as [number, number, ...number[]];
      const strides = ints('strides') ?? kernel.map(() => 1);
      const dilations = ints('dilations') ?? kernel.map(() => 1);
      const pads = ints('pads') ?? [...kernel, ...kernel].map(() => 0);
      const outSpatial = spatial.map(
        (size, i) => Math.floor((size + pads[i]! + pads[i + kernel.length]! - dilations[i]! * (kernel[i]! - 1) - 1) / strides[i]!) + 1,
      );
      if (c !== cg * int('group', 1)) throw new Error(`countFlops: Conv with ${c} channels and a [${a(1).shape.join(', ')}] kernel`);
      count.conv += 2 * n * o * product(outSpatial) * cg * product(kernel);
      return [{ shape: [n, o, ...outSpatial] }];
    }
    case 'MatMul': {
      const x = a(0).shape;
      const w = a(1).shape;
      const left = x.length === 1 ? [1, x[0]!] : x;
      const right = w.length === 1 ? [w[0]!, 1] : w;
      const m = left[left.length - 2]!;
      const k = left[left.length - 1]!;
      const n = right[right.length - 1]!;
      if (right[right.length - 2] !== k) throw new Error(`countFlops: MatMul [${x.join(', ')}] × [${w.join(', ')}]`);
      const batch = broadcast(left.slice(0, -2), right.slice(0, -2));
      const flops = 2 * product(batch) * m * k * n;
      if (a(0).weight || a(1).weight) count.linear += flops;
      else count.attention += flops;
      return [{ shape: [...batch, ...(x.length === 1 ? [] : [m]), ...(w.length === 1 ? [] : [n])] }];
    }
    case 'MultiHeadAttention': {
      // query [B, S, D], key [B, L, D], value [B, L, Dv]: Q·Kᵀ and P·V over all heads.
      const [b, s, d] = a(0).shape as [number, number, number];
      const l = a(1).shape[1]!;
      const dv = a(2).shape[2]!;
      count.attention += 2 * b * s * l * (d + dv);
      return [{ shape: [b, s, dv] }];
    }
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Pow':
    case 'Greater':
    case 'Less':
    case 'Equal':
      return [elementwise(node.opType, ins.map((_, i) => a(i)))];
    case 'Where':
      return [{ shape: broadcast(broadcast(a(0).shape, a(1).shape), a(2).shape) }];
    case 'Identity':
    case 'Cast':
      return [{ ...a(0), weight: false }];
    case 'Sigmoid':
    case 'Erf':
    case 'Sqrt':
    case 'Cos':
    case 'Sin':
    case 'Exp':
    case 'Log':
    case 'Neg':
    case 'Tanh':
    case 'Relu':
    case 'Softmax':
    case 'Clip':
    case 'InstanceNormalization':
    case 'LayerNormalization':
    case 'RandomNormalLike':
      return [{ shape: [...a(0).shape] }];
    case 'Shape':
      return [{ shape: [a(0).shape.length], data: [...a(0).shape] }];
    case 'Reshape': {
      const target = known(a(1), node);
      const input = a(0).shape;
      const shape = target.map((d, i) => (d === 0 ? input[i]! : d));
      const hole = shape.indexOf(-1);
      if (hole >= 0) shape[hole] = product(input) / -product(shape);
      return [{ shape, ...(a(0).data ? { data: a(0).data } : {}) }];
    }
    case 'Transpose': {
      const input = a(0).shape;
      const perm = ints('perm') ?? input.map((_, i) => input.length - 1 - i);
      return [{ shape: perm.map((p) => input[p]!) }];
    }
    case 'Unsqueeze': {
      const axesList = ins[1] ? known(a(1), node) : (ints('axes') ?? []);
      const rank = a(0).shape.length + axesList.length;
      const axes = axesList.map((x) => (x < 0 ? x + rank : x));
      const rest = [...a(0).shape];
      const shape = Array.from({ length: rank }, (_, i) => (axes.includes(i) ? 1 : rest.shift()!));
      return [{ shape, ...(a(0).data ? { data: a(0).data } : {}) }];
    }
    case 'Gather': {
      const data = a(0);
      const idx = a(1);
      const axis = norm(int('axis', 0), data.shape.length);
      const shape = [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)];
      if (data.data && idx.data && data.shape.length === 1) {
        return [{ shape, data: idx.data.map((i) => data.data![norm(i, data.shape[0]!)]!) }];
      }
      return [{ shape }];
    }
    case 'Slice': {
      const data = a(0);
      const starts = known(a(1), node);
      const ends = known(a(2), node);
      const axes = ins[3] ? known(a(3), node) : starts.map((_, i) => i);
      const steps = ins[4] ? known(a(4), node) : starts.map(() => 1);
      const shape = [...data.shape];
      const ranges = shape.map((d) => ({ start: 0, end: d, step: 1 }));
      axes.forEach((axisIn, i) => {
        const axis = norm(axisIn, shape.length);
        const d = shape[axis]!;
        const step = steps[i]!;
        if (step !== 1) throw new Error('countFlops: Slice with a step other than 1');
        const clampIndex = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
        ranges[axis] = { start: clampIndex(starts[i]!), end: clampIndex(ends[i]!), step };
        shape[axis] = Math.max(0, ranges[axis]!.end - ranges[axis]!.start);
      });
      if (data.data && data.shape.length === 1) return [{ shape, data: data.data.slice(ranges[0]!.start, ranges[0]!.end) }];
      return [{ shape }];
    }
    case 'Concat': {
      const parts = ins.map((_, i) => a(i));
      const axis = norm(int('axis', 0), parts[0]!.shape.length);
      const shape = [...parts[0]!.shape];
      shape[axis] = parts.reduce((n, p) => n + p.shape[axis]!, 0);
      const data = parts.every((p) => p.data) && shape.length === 1 ? parts.flatMap((p) => p.data!) : undefined;
      return [{ shape, ...(data ? { data } : {}) }];
    }
    case 'Split': {
      const input = a(0).shape;
      const axis = norm(int('axis', 0), input.length);
      const parts = node.outputs.length;
      const sizes = ins[1] ? known(a(1), node) : (ints('split') ?? new Array<number>(parts).fill(input[axis]! / parts));
      return sizes.map((size) => ({ shape: input.map((d, i) => (i === axis ? size : d)) }));
    }
    case 'Resize': {
      const input = a(0).shape;
      if (ins[3]) return [{ shape: known(a(3), node) }];
      const scales = known(a(2), node);
      return [{ shape: input.map((d, i) => Math.floor(d * scales[i]!)) }];
    }
    case 'ReduceMean': {
      const input = a(0).shape;
      const axes = (ints('axes') ?? input.map((_, i) => i)).map((x) => norm(x, input.length));
      const keep = int('keepdims', 1) === 1;
      return [{ shape: input.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d])) }];
    }
    case 'ArgMax': {
      const input = a(0).shape;
      const axis = norm(int('axis', 0), input.length);
      const keep = int('keepdims', 1) === 1;
      return [{ shape: input.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d])) }];
    }
    case 'GatherND': {
      const data = a(0).shape;
      const idx = a(1).shape;
      const batchDims = int('batch_dims', 0);
      return [{ shape: [...idx.slice(0, -1), ...data.slice(batchDims + idx[idx.length - 1]!)] }];
    }
    case 'Range': {
      const [start, limit, delta] = [known(a(0), node)[0]!, known(a(1), node)[0]!, known(a(2), node)[0]!];
      const length = Math.max(0, Math.ceil((limit - start) / delta));
      return [{ shape: [length], data: Array.from({ length }, (_, i) => start + i * delta) }];
    }
    default:
      throw new Error(`countFlops: no shape rule for ${node.domain ? `${node.domain}.` : ''}${node.opType}`);
  }
}

function elementwise(op: string, parts: Value[]): Value {
  const shape = parts.reduce<number[]>((s, p) => broadcast(s, p.shape), []);
  const [x, y] = parts as [Value, Value];
  if (x.data && y.data && shape.length <= 1) {
    const at = (v: Value, i: number) => v.data![v.data!.length === 1 ? 0 : i]!;
    const f: Record<string, (p: number, q: number) => number> = {
      Add: (p, q) => p + q,
      Sub: (p, q) => p - q,
      Mul: (p, q) => p * q,
      Div: (p, q) => Math.trunc(p / q),
    };
    const fn = f[op];
    if (fn) return { shape, data: Array.from({ length: product(shape) }, (_, i) => fn(at(x, i), at(y, i))) };
  }
  return { shape };
}

/** numpy broadcasting of two shapes. */
function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`countFlops: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    return x === 1 ? y : x;
  });
}

function known(v: Value, node: NodeDef): number[] {
  if (!v.data) throw new Error(`countFlops: ${node.name ?? node.opType} needs a value known before running`);
  return v.data;
}

function norm(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function product(xs: readonly number[]): number {
  return xs.reduce((n, d) => n * d, 1);
}
