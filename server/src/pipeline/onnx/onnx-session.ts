// The only module that imports onnxruntime-node. It creates sessions, reads their input/output metadata, and
// converts between Easel's plain tensors and ORT's, so exporter differences (int32 vs int64 ids, float16 I/O,
// a 0-d timestep) stay here and callers speak float32.
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { floatTensor, type FloatTensor } from '../tensor.js';
import { fromFloat16Bits, toFloat16Bits } from './float16.js';
import { createCached } from './optimized-model-cache.js';

export interface ValueInfo {
  name: string;
  type: string;
  shape: ReadonlyArray<number | string>;
}

export interface SessionOptions {
  threads?: number;
  /** Execution providers in order of preference (execution-provider.ts chooses them); the CPU when not given. */
  providers?: readonly ('cuda' | 'cpu')[];
  /**
   * onnxruntime's CPU memory arena (default on): it keeps freed blocks for the next run, which is faster, and
   * never hands them back to the system. Low-memory mode turns it off.
   */
  memArena?: boolean;
  /** Plans each run's buffers from the last run's shapes (default on). */
  memPattern?: boolean;
  /** onnxruntime's graph optimizations: 'all' (default) adds the CPU's own layouts and fusions to 'extended'. */
  optimizationLevel?: 'basic' | 'extended' | 'all';
  /**
   * Where optimized graphs are kept (optimized-model-cache.ts): the first load saves onnxruntime's optimized
   * graph there, later loads read it and skip the optimizer, which is most of a large model's load time.
   */
  optimizedCacheDir?: string;
}

/** A value to feed: float data is converted to the input's dtype; integer data to int32/int64 as declared. */
export type Feed =
  | { kind: 'float'; dims: number[]; data: Float32Array }
  | { kind: 'int'; dims: number[]; data: Int32Array };

export class OnnxModel {
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  /** Time spent inside onnxruntime's run(), for benchmarks and the job's timings. */
  readonly stats = { runs: 0, ms: 0 };

  private constructor(
    readonly path: string,
    private session: ort.InferenceSession | undefined,
    private readonly options: SessionOptions,
  ) {
    this.inputs = describe(session!.inputNames, session!.inputMetadata);
    this.outputs = describe(session!.outputNames, session!.outputMetadata);
  }

  /** False after unload() until the next run() loads the session again. */
  get loaded(): boolean {
    return this.session !== undefined;
  }

  /**
   * Frees the session (weights and buffers) but keeps what callers read (inputs, outputs, stats); the next run()
   * loads it again. Low-memory mode holds one network at a time this way.
   */
  async unload(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.release();
  }

  static async load(path: string, options: SessionOptions = {}): Promise<OnnxModel> {
    if (!existsSync(path)) throw new Error(`model file not found: ${path}`);
    return new OnnxModel(path, await createSession(path, options), options);
  }

  input(name: string): ValueInfo | undefined {
    return this.inputs.find((i) => i.name === name);
  }

  /** Runs the model; every declared input must be fed. Returns every output as float32. */
  async run(feeds: Record<string, Feed>): Promise<Record<string, FloatTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const info of this.inputs) {
      const feed = feeds[info.name];
      if (!feed) {
        throw new Error(
          `${this.path}: input "${info.name}" (${info.type} [${info.shape.join(', ')}]) was not given; ` +
            `given: ${Object.keys(feeds).join(', ') || 'nothing'}`,
        );
      }
      ortFeeds[info.name] = toOrt(feed, info, this.path);
    }
    // Loading again after unload() is not run time: the stats stay the time spent computing.
    this.session ??= await createSession(this.path, this.options);
    const started = performance.now();
    const result = await this.session.run(ortFeeds);
    this.stats.runs += 1;
    this.stats.ms += performance.now() - started;
    const out: Record<string, FloatTensor> = {};
    for (const [name, tensor] of Object.entries(result)) {
      // CPU outputs own their native buffer; the GC frees it with the array, so no copy and no dispose.
      out[name] = fromOrt(tensor, name, this.path);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.unload();
  }
}

async function createSession(path: string, options: SessionOptions): Promise<ort.InferenceSession> {
  const base: ort.InferenceSession.SessionOptions = {
    executionProviders: [...(options.providers ?? ['cpu'])],
    graphOptimizationLevel: options.optimizationLevel ?? 'all',
    executionMode: 'sequential',
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    ...(options.memArena === false ? { enableCpuMemArena: false } : {}),
    ...(options.memPattern === false ? { enableMemPattern: false } : {}),
  };
  if (!options.optimizedCacheDir) return ort.InferenceSession.create(path, base);
  return createCached(path, base, options.optimizedCacheDir, (file, o) => ort.InferenceSession.create(file, o), ort.env.versions.node ?? '');
}

function describe(names: readonly string[], metadata: readonly ort.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return names.map((name, i) => {
    const meta = metadata[i];
    return meta && meta.isTensor
      ? { name, type: meta.type, shape: meta.shape }
      : { name, type: 'unknown', shape: [] };
  });
}

function toOrt(feed: Feed, info: ValueInfo, path: string): ort.Tensor {
  const dims = feed.dims;
  switch (info.type) {
    case 'float32':
      return new ort.Tensor('float32', feed.kind === 'float' ? feed.data : Float32Array.from(feed.data), dims);
    case 'float16':
      return new ort.Tensor('float16', toFloat16Bits(feed.kind === 'float' ? feed.data : Float32Array.from(feed.data)), dims);
    case 'float64':
      // CodeFormer exports (facefusion's) take their fidelity weight as a double.
      return new ort.Tensor('float64', Float64Array.from(feed.data), dims);
    case 'int32':
      return new ort.Tensor('int32', feed.kind === 'int' ? feed.data : Int32Array.from(feed.data, Math.round), dims);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(feed.data, (v) => BigInt(Math.round(v))), dims);
    default:
      throw new Error(`${path}: input "${info.name}" has type ${info.type}, which Easel cannot feed yet`);
  }
}

function fromOrt(tensor: ort.Tensor, name: string, path: string): FloatTensor {
  const dims = [...tensor.dims];
  switch (tensor.type) {
    case 'float32':
      return floatTensor(dims, tensor.data as Float32Array);
    case 'float16':
      return floatTensor(dims, fromFloat16Bits(tensor.data as Uint16Array));
    case 'int32':
    case 'int64':
      return floatTensor(dims, Float32Array.from(tensor.data as ArrayLike<number | bigint>, Number));
    default:
      throw new Error(`${path}: output "${name}" has type ${tensor.type}, which Easel cannot read yet`);
  }
}
