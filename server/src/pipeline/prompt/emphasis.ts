// A1111's "Original" emphasis (modules/sd_emphasis.py EmphasisOriginal): after the text encoder, every token's
// hidden state is scaled by its attention weight, then the whole tensor is rescaled so its mean is what it was.
// The mean restore is a heuristic: without it, heavy weights shift the overall scale of the conditioning and
// produce artifacts.

/**
 * Applies attention weights to text-encoder output `hidden` of shape `dims` = [batch, tokens, channels]
 * (one chunk is [1, 77, D]). `weights` holds one multiplier per token: `tokens` of them, shared by every batch
 * row, or `batch × tokens`. As in A1111 the mean is taken over the whole tensor, not per row.
 *
 * Never modifies `hidden`. When every weight is 1 the result would equal the input exactly, so `hidden` itself is
 * returned; otherwise a new array.
 */
export function applyEmphasis(
  hidden: Float32Array,
  dims: [number, number, number],
  weights: readonly number[],
): Float32Array {
  const [batch, tokens, channels] = dims;
  const size = batch * tokens * channels;
  if (hidden.length !== size) {
    throw new Error(`emphasis: hidden state has ${hidden.length} values, dims [${dims.join(', ')}] need ${size}`);
  }
  if (weights.length !== tokens && weights.length !== batch * tokens) {
    throw new Error(`emphasis: ${weights.length} weights for ${tokens} tokens × ${batch} rows`);
  }
  if (weights.every((weight) => weight === 1)) return hidden;

  const originalMean = mean(hidden);
  const result = new Float32Array(hidden.length);
  for (let row = 0; row < batch * tokens; row++) {
    const weight = weights[row % weights.length];
    const start = row * channels;
    for (let c = start; c < start + channels; c++) result[c] = hidden[c] * weight;
  }

  const newMean = mean(result);
  // A1111 divides regardless and would fill the tensor with NaN/Infinity; with a zero mean (all weights 0, or a
  // degenerate input) the weighted values are the better answer.
  if (newMean === 0 || !Number.isFinite(originalMean / newMean)) return result;
  const scale = originalMean / newMean;
  for (let i = 0; i < result.length; i++) result[i] *= scale;
  return result;
}

/** Mean in float64, so a 77×1024 chunk loses no precision to float32 accumulation. */
function mean(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return values.length > 0 ? sum / values.length : 0;
}
