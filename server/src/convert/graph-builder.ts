// Builds an ONNX graph step by step: inputs, initializers, nodes, outputs, with unique names and seeded weights.
// Composite layers (linear, conv, norms, attention) live in nn-layers.ts and only use this API.
// Parameters come from a WeightSource (a real checkpoint, read lazily while the model is written) when one is
// given, else they are seeded random (or constant) values.
//
// Precision. The builder carries the compute type (`precision: 'fp16'` → float16) instead of a pass converting a
// finished float32 graph: every float parameter and `constFloat` is emitted in the compute type (converted lazily,
// when the writer reaches it), graph I/O stays float32 through `floatInput` / `floatOutput` (a Cast at each edge,
// as onnxconverter-common's keep_io_types), and the few places that must stay float32 say so where they are built
// (`constFloat32`, `toFloat32` … `toCompute`). A post-build pass would need type propagation over every op and a
// block list to rediscover what the layer code already knows (Resize scales are float32 by the ONNX spec, the
// timestep sinusoid needs float32). In fp32 the helpers add nothing, so float32 graphs are unchanged.
import type {
  AttrValue,
  ModelDef,
  NodeDef,
  TensorData,
  TensorDataType,
  TensorInit,
  TensorSource,
  ValueInfo,
} from './onnx-proto.js';
import { dataTypeCode } from './onnx-proto.js';
import { normalTensor } from './seeded-random.js';
import { toFloat16Bits } from '../pipeline/onnx/float16.js';

/** Plain attribute values: a string is STRING, a number INT, a number[] INTS; use `attr.float()` etc. for the rest. */
export type AttrInput = AttrValue | string | number | readonly number[];

/**
 * Named parameters in PyTorch layout (diffusers / transformers module names, e.g. `conv_in.weight`, Linear weights
 * [out, in]). `shape` is cheap and answers at build time; `read` is called only while the model is written.
 */
export interface WeightSource {
  /** The parameter's shape, or undefined when the source does not have it. */
  shape(name: string): readonly number[] | undefined;
  /** The parameter's values as float32, row-major over `shape`. */
  read(name: string): Float32Array;
}

/** The float type of weights and compute: graph inputs and outputs stay float32 either way. */
export type Precision = 'fp32' | 'fp16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16'];

/** How a parameter is initialised when there is no weight source. */
export type ParamInit = WeightOptions | { fill: number };

export interface ParamOptions {
  /** The stored tensor is the 2-D transpose of the PyTorch one ([in, out] for MatMul, where torch keeps [out, in]). */
  transpose?: boolean;
}

export interface GraphBuilderOptions {
  /** Seed of the random weights; each weight's stream is derived from (seed, graph name, weight name). */
  seed?: number;
  /** Where parameters come from; without one they are seeded random values. */
  weights?: WeightSource;
  /** Default opset 14 and IR version 7, as diffusers' torch.onnx export writes. */
  opset?: number;
  irVersion?: number;
  producerName?: string;
  /**
   * Attention as onnxruntime's com.microsoft MultiHeadAttention (flash attention on the CPU: no S×S score matrix)
   * where nn-layers can; plain MatMul/Softmax otherwise. Off by default: other runtimes lack the contrib op.
   */
  fusedAttention?: boolean;
  /** 'fp16': float16 weights and compute, float32 graph I/O (see the header). Default 'fp32'. */
  precision?: Precision;
}

export interface WeightOptions {
  /** Inputs feeding each output; the std is gain / sqrt(fanIn), which keeps activations near unit scale. */
  fanIn: number;
  gain?: number;
}

export class GraphBuilder {
  readonly seed: number;
  readonly weights: WeightSource | undefined;
  readonly fusedAttention: boolean;
  /** The element type of parameters, float constants and everything computed from them. */
  readonly floatType: 'float32' | 'float16';
  private readonly opset: number;
  private readonly irVersion: number;
  private readonly producerName: string;
  private readonly nodes: NodeDef[] = [];
  private readonly initializers: TensorInit[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  /** Every value, initializer and node name in use: ONNX requires them unique within the graph. */
  private readonly usedNames = new Set<string>();
  private readonly constants = new Map<string, string>();
  /** `${value}→${type}` → the Cast's output, so a value is converted once however many users ask. */
  private readonly casts = new Map<string, string>();
  private usesContribOps = false;

  constructor(
    readonly name: string,
    opts: GraphBuilderOptions = {},
  ) {
    this.seed = opts.seed ?? 0;
    this.weights = opts.weights;
    this.fusedAttention = opts.fusedAttention ?? false;
    this.floatType = opts.precision === 'fp16' ? 'float16' : 'float32';
    this.opset = opts.opset ?? 14;
    this.irVersion = opts.irVersion ?? 7;
    this.producerName = opts.producerName ?? 'easel';
  }

  /** Declares a graph input and returns its value name. */
  input(name: string, elemType: TensorDataType, shape: readonly (number | string)[]): string {
    this.claim(name);
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  /** Declares a graph output `name` carrying `value` (an Identity is added when the names differ). */
  output(name: string, elemType: TensorDataType, shape: readonly (number | string)[], value: string = name): void {
    if (value !== name) this.node('Identity', [value], [name]);
    this.outputs.push({ name, elemType, shape });
  }

  /** Declares a float32 graph input and returns it in the compute type (a Cast in fp16). */
  floatInput(name: string, shape: readonly (number | string)[]): string {
    return this.toCompute(this.input(name, 'float32', shape));
  }

  /** Declares a float32 graph output carrying `value`, a compute-type value (cast back in fp16). */
  floatOutput(name: string, shape: readonly (number | string)[], value: string): void {
    if (this.floatType === 'float32') return this.output(name, 'float32', shape, value);
    this.node('Cast', [value], [name], { to: dataTypeCode('float32') }, `${name}/Cast`);
    this.outputs.push({ name, elemType: 'float32', shape });
  }

  /** `value` (compute type) as float32, for parts computed in float32 whatever the precision. */
  toFloat32(value: string): string {
    return this.cast(value, 'float32');
  }

  /** `value` (float32) in the compute type: where a float32 part hands over to the rest of the graph. */
  toCompute(value: string): string {
    return this.cast(value, this.floatType);
  }

  /** Adds an initializer; the data type follows the array type. */
  initializer(name: string, dims: readonly number[], data: TensorData): string {
    this.claim(name);
    this.initializers.push({ name, dims: [...dims], data, dataType: dataTypeOf(data) });
    return name;
  }

  /** Adds an initializer whose values are produced only when the model is written. */
  lazyInitializer(name: string, dims: readonly number[], dataType: TensorDataType, load: () => TensorData): string {
    this.claim(name);
    const data: TensorSource = load;
    this.initializers.push({ name, dims: [...dims], data, dataType });
    return name;
  }

  /**
   * A model parameter named as in PyTorch, stored with `dims`. From the weight source when there is one (checked
   * against `dims` now, read later), else random (`init` with fanIn/gain) or constant (`init.fill`).
   */
  param(name: string, dims: readonly number[], init: ParamInit, opts: ParamOptions = {}): string {
    const source = this.weights;
    if (!source) {
      return 'fill' in init ? this.filled(name, dims, init.fill) : this.weight(name, dims, init);
    }
    if (opts.transpose && dims.length !== 2) throw new Error(`${name}: only 2-D parameters can be transposed`);
    const torchDims = opts.transpose ? [dims[1], dims[0]] : [...dims];
    const found = source.shape(name);
    if (!found) throw new Error(`${this.name}: the weights lack "${name}" (expected shape [${torchDims.join(', ')}])`);
    if (!sameShapeUpToOnes(found, torchDims)) {
      throw new Error(`${this.name}: "${name}" has shape [${found.join(', ')}], the architecture expects [${torchDims.join(', ')}]`);
    }
    return this.lazyFloat(name, dims, () => {
      const values = source.read(name);
      return opts.transpose ? transpose2d(values, torchDims[0], torchDims[1]) : values;
    });
  }

  /** A random-normal float weight, std = gain / sqrt(fanIn); generated only when the model is written. */
  weight(name: string, dims: readonly number[], opts: WeightOptions): string {
    const count = dims.reduce((n, d) => n * d, 1);
    const std = (opts.gain ?? 1) / Math.sqrt(opts.fanIn);
    const stream = `${this.name}/${name}`;
    return this.lazyFloat(name, dims, () => normalTensor(this.seed, stream, count, std));
  }

  /** A float weight filled with one value (norm scales start at 1, biases at 0). */
  filled(name: string, dims: readonly number[], value: number): string {
    const count = dims.reduce((n, d) => n * d, 1);
    return this.initializer(name, dims, this.inFloatType(new Float32Array(count).fill(value)));
  }

  /** An int64 constant (shapes, axes, indices), shared between all users of the same value. */
  constInt64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant('int64', values, dims, () => BigInt64Array.from(values, (v) => BigInt(v)));
  }

  /** A float constant in the compute type, shared between all users of the same value. Pass dims [] for a scalar. */
  constFloat(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant(this.floatType, values, dims, () => this.inFloatType(Float32Array.from(values)));
  }

  /** A float32 constant whatever the precision: Resize scales (float32 by the ONNX spec), float32 parts. */
  constFloat32(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant('float32', values, dims, () => Float32Array.from(values));
  }

  /**
   * Adds a node. `outputs` is a list of names, or a count of fresh names derived from `hint`.
   * Returns the output names.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[] | number = 1,
    attrs: Readonly<Record<string, AttrInput>> = {},
    hint: string = opType,
  ): string[] {
    let outputNames: string[];
    if (typeof outputs === 'number') {
      outputNames = Array.from({ length: outputs }, (_, i) => this.uniqueName(outputs === 1 ? hint : `${hint}_${i}`));
    } else {
      for (const o of outputs) this.claim(o);
      outputNames = [...outputs];
    }
    const attributes: Record<string, AttrValue> = {};
    for (const [key, value] of Object.entries(attrs)) attributes[key] = toAttrValue(value);
    this.nodes.push({
      opType,
      inputs: [...inputs],
      outputs: outputNames,
      name: this.uniqueName(`${hint}/${opType}`),
      attributes,
    });
    return outputNames;
  }

  /** Adds a single-output node and returns its output name. */
  op(
    opType: string,
    inputs: readonly string[],
    attrs: Readonly<Record<string, AttrInput>> = {},
    hint?: string,
  ): string {
    return this.node(opType, inputs, 1, attrs, hint ?? opType)[0];
  }

  /** A single-output onnxruntime contrib op (com.microsoft domain); the model then imports that domain. */
  contribOp(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrInput>> = {}, hint?: string): string {
    const output = this.op(opType, inputs, attrs, hint);
    const node = this.nodes[this.nodes.length - 1] as NodeDef;
    this.nodes[this.nodes.length - 1] = { ...node, domain: CONTRIB_DOMAIN };
    this.usesContribOps = true;
    return output;
  }

  /** A name not used yet in this graph: `prefix`, else `prefix_1`, `prefix_2`… */
  uniqueName(prefix: string): string {
    const name = this.freeName(prefix);
    this.usedNames.add(name);
    return name;
  }

  /** The finished model. The builder can keep growing afterwards; the model is a snapshot. */
  build(): ModelDef {
    return {
      irVersion: this.irVersion,
      producerName: this.producerName,
      opsetImports: [{ domain: '', version: this.opset }, ...(this.usesContribOps ? [{ domain: CONTRIB_DOMAIN, version: 1 }] : [])],
      graph: {
        name: this.name,
        nodes: [...this.nodes],
        initializers: [...this.initializers],
        inputs: [...this.inputs],
        outputs: [...this.outputs],
      },
    };
  }

  /** A float32-valued parameter stored in the compute type, converted only when the model is written. */
  private lazyFloat(name: string, dims: readonly number[], load: () => Float32Array): string {
    return this.lazyInitializer(name, dims, this.floatType, () => {
      const values = load();
      if (this.floatType === 'float16') assertHalfRange(`${this.name}: "${name}"`, values);
      return this.inFloatType(values);
    });
  }

  private inFloatType(values: Float32Array): Float32Array | Uint16Array {
    return this.floatType === 'float16' ? toFloat16Bits(values) : values;
  }

  private cast(value: string, to: 'float32' | 'float16'): string {
    if (this.floatType === 'float32') return value;
    const key = `${value}→${to}`;
    const known = this.casts.get(key);
    if (known) return known;
    const out = this.op('Cast', [value], { to: dataTypeCode(to) }, `${value}/to_${to === 'float32' ? 'fp32' : 'fp16'}`);
    this.casts.set(key, out);
    return out;
  }

  private constant(
    type: TensorDataType,
    values: readonly number[],
    dims: readonly number[],
    make: () => TensorData,
  ): string {
    const key = `${type}[${dims.join(',')}]:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.initializer(this.freeName(`const_${type}`), dims, make());
    this.constants.set(key, name);
    return name;
  }

  private freeName(prefix: string): string {
    let name = prefix;
    for (let i = 1; this.usedNames.has(name); i++) name = `${prefix}_${i}`;
    return name;
  }

  private claim(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`graph ${this.name}: name "${name}" is already used`);
    this.usedNames.add(name);
  }
}

const CONTRIB_DOMAIN = 'com.microsoft';

/** Equal once size-1 axes are dropped: a 1×1 conv kernel [o, i, 1, 1] can feed a Linear [o, i], a norm scale [c] a [c, 1, 1]. */
function sameShapeUpToOnes(a: readonly number[], b: readonly number[]): boolean {
  const squeeze = (s: readonly number[]) => s.filter((d) => d !== 1).join(',');
  return squeeze(a) === squeeze(b);
}

/** The largest finite float16 magnitude: a weight beyond it would become infinity and every image NaN. */
const HALF_MAX = 65504;

function assertHalfRange(what: string, values: Float32Array): void {
  for (const v of values) {
    if (!(Math.abs(v) <= HALF_MAX)) {
      throw new Error(`${what} holds ${v}, which float16 cannot represent (largest ${HALF_MAX}): import this checkpoint as fp32`);
    }
  }
}

/** [rows, cols] → [cols, rows]. */
export function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  if (values.length !== rows * cols) throw new Error(`transpose: ${values.length} values for [${rows}, ${cols}]`);
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[row + c];
  }
  return out;
}

function dataTypeOf(data: TensorData): TensorDataType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Uint16Array) return 'float16';
  if (data instanceof Int32Array) return 'int32';
  return 'int64';
}

function toAttrValue(value: AttrInput): AttrValue {
  if (typeof value === 'string') return { type: 'string', value };
  if (typeof value === 'number') return { type: 'int', value };
  if (isNumberArray(value)) return { type: 'ints', value };
  return value;
}

function isNumberArray(value: AttrInput): value is readonly number[] {
  return Array.isArray(value);
}
