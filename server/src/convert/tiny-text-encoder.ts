// A tiny CLIP text encoder (random weights) with the diffusers ONNX contract:
// input_ids int32 [batch, sequence] → last_hidden_state [batch, sequence, dim], pooler_output [batch, dim].
import { GraphBuilder } from './graph-builder.js';
import type { ModelDef } from './onnx-proto.js';
import { attention, causalMask, dimScalar, layerNorm, linear, quickGelu } from './nn-layers.js';

export interface TinyTextEncoderOptions {
  /** Rows of the token embedding: must exceed every id the tokenizer can produce. */
  vocabSize: number;
  seed: number;
  dim?: number;
  layers?: number;
  heads?: number;
  /** CLIP's context length; longer sequences fail (position rows run out), as in the real model. */
  maxPositions?: number;
}

export const TINY_TEXT_DIM = 32;

const CLIP_PROJECTIONS = { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' };

export function buildTinyTextEncoder(opts: TinyTextEncoderOptions): ModelDef {
  const dim = opts.dim ?? TINY_TEXT_DIM;
  const layers = opts.layers ?? 2;
  const heads = opts.heads ?? 2;
  const maxPositions = opts.maxPositions ?? 77;
  const b = new GraphBuilder('text_encoder', { seed: opts.seed });
  const ids = b.input('input_ids', 'int32', ['batch', 'sequence']);

  // Embeddings: token table lookup plus the first `sequence` rows of the position table.
  const tokenTable = b.weight('text_model.embeddings.token_embedding.weight', [opts.vocabSize, dim], { fanIn: 1 });
  const positionTable = b.weight('text_model.embeddings.position_embedding.weight', [maxPositions, dim], {
    fanIn: 1,
    gain: 0.5,
  });
  const tokens = b.op('Gather', [tokenTable, ids], { axis: 0 }, 'embeddings/token');
  const idsShape = b.op('Shape', [ids], {}, 'embeddings/Shape');
  const seqLen1d = b.op('Gather', [idsShape, b.constInt64([1])], { axis: 0 }, 'embeddings/seq_len');
  const zero = b.constInt64([0]);
  const positions = b.op('Slice', [positionTable, zero, seqLen1d, zero], {}, 'embeddings/position');
  let h = b.op('Add', [tokens, positions], {}, 'embeddings/Add');

  const mask = causalMask(b, dimScalar(b, ids, 1, 'causal_mask/seq_len'));
  for (let i = 0; i < layers; i++) {
    const layer = `text_model.encoder.layers.${i}`;
    const attn = attention(b, layerNorm(b, h, `${layer}.layer_norm1`, dim), undefined, `${layer}.self_attn`, {
      dim,
      heads,
      qkvBias: true,
      mask,
      projections: CLIP_PROJECTIONS,
    });
    h = b.op('Add', [h, attn], {}, `${layer}/attn_residual`);
    const normed = layerNorm(b, h, `${layer}.layer_norm2`, dim);
    const hidden = quickGelu(b, linear(b, normed, `${layer}.mlp.fc1`, dim, 2 * dim), `${layer}/mlp`);
    h = b.op('Add', [h, linear(b, hidden, `${layer}.mlp.fc2`, 2 * dim, dim)], {}, `${layer}/mlp_residual`);
  }
  const last = layerNorm(b, h, 'text_model.final_layer_norm', dim);

  // CLIP pools the hidden state at the end-of-text token; the tokenizer gives it the highest id, so ArgMax over
  // the ids finds it (the first one when padding repeats it), exactly as transformers' CLIPTextTransformer does.
  const eosIndex = b.op('ArgMax', [ids], { axis: -1, keepdims: 0 }, 'pooler/ArgMax');
  const perRow = b.op('Unsqueeze', [eosIndex, b.constInt64([1])], {}, 'pooler/Unsqueeze');
  const pooled = b.op('GatherND', [last, perRow], { batch_dims: 1 }, 'pooler/GatherND');

  b.output('last_hidden_state', 'float32', ['batch', 'sequence', dim], last);
  b.output('pooler_output', 'float32', ['batch', dim], pooled);
  return b.build();
}
