// The one filter interface: every filter (an ONNX model or plain code) runs in the render worker on an RgbImage and
// reports progress and honours cancel through this context, so a chain of them can hang off a job's step callback.
import type { RgbImage } from '../images/encode.js';

export interface FilterContext {
  modelsDir: string;
  onProgress?(done: number, total: number): void;
  shouldStop?(): boolean;
}

/** A filter that turns one picture into another. */
export type ImageFilter<Options> = (image: RgbImage, options: Options, ctx: FilterContext) => Promise<RgbImage>;

/** Thrown when `ctx.shouldStop()` says the job was cancelled mid-filter. */
export class FilterStopped extends Error {
  constructor() {
    super('the filter was stopped');
  }
}
