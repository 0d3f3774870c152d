// transformers' CLIPTextModel as diffusers exports it to ONNX:
// input_ids int32 [batch, sequence] → last_hidden_state [batch, sequence, hidden], pooler_output [batch, hidden].
// Pre-LayerNorm transformer with a causal mask; quick_gelu (SD 1.x, OpenAI CLIP) or exact gelu (SD 2.x, OpenCLIP).
import { GraphBuilder } from './graph-builder.js';
import type { GraphBuilderOptions, Precision, WeightSource } from './graph-builder.js';
import type { ModelDef } from './onnx-proto.js';
import { attention, causalMask, dimScalar, embedding, gelu, layerNorm, linear, quickGelu } from './nn-layers.js';
import type { TextEncoderConfig } from './sd-config.js';

export interface BuildOptions {
  /** Real weights (diffusers names); seeded random weights without. */
  weights?: WeightSource;
  seed?: number;
  /** onnxruntime's fused attention contrib op where possible (GraphBuilderOptions.fusedAttention). */
  fusedAttention?: boolean;
  /** float16 weights and compute with float32 I/O (GraphBuilderOptions.precision); default fp32. */
  precision?: Precision;
}

export function builderOptions(opts: BuildOptions): GraphBuilderOptions {
  return { seed: opts.seed, weights: opts.weights, fusedAttention: opts.fusedAttention, precision: opts.precision };
}

const CLIP_PROJECTIONS = { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' };

export function buildClipTextEncoder(config: TextEncoderConfig, opts: BuildOptions = {}): ModelDef {
  const dim = config.hiddenSize;
  const b = new GraphBuilder('text_encoder', builderOptions(opts));
  const ids = b.input('input_ids', 'int32', ['batch', 'sequence']);

  // Embeddings: token table lookup plus the first `sequence` rows of the position table.
  const tokens = embedding(b, ids, 'text_model.embeddings.token_embedding', config.vocabSize, dim);
  const positionTable = b.param('text_model.embeddings.position_embedding.weight', [config.maxPositions, dim], {
    fanIn: 1,
    gain: 0.5,
  });
  const idsShape = b.op('Shape', [ids], {}, 'embeddings/Shape');
  const seqLen1d = b.op('Gather', [idsShape, b.constInt64([1])], { axis: 0 }, 'embeddings/seq_len');
  const zero = b.constInt64([0]);
  const positions = b.op('Slice', [positionTable, zero, seqLen1d, zero], {}, 'embeddings/position');
  let h = b.op('Add', [tokens, positions], {}, 'embeddings/Add');

  const mask = causalMask(b, dimScalar(b, ids, 1, 'causal_mask/seq_len'));
  const eps = config.layerNormEps;
  const act = config.act === 'gelu' ? gelu : quickGelu;
  const used = config.layers - (config.penultimate ? 1 : 0);
  if (used < 1) throw new Error(`text encoder: ${config.layers} layers leave none to run`);
  for (let i = 0; i < used; i++) {
    const layer = `text_model.encoder.layers.${i}`;
    const attn = attention(b, layerNorm(b, h, `${layer}.layer_norm1`, dim, eps), undefined, `${layer}.self_attn`, {
      dim,
      heads: config.heads,
      qkvBias: true,
      mask,
      projections: CLIP_PROJECTIONS,
    });
    h = b.op('Add', [h, attn], {}, `${layer}/attn_residual`);
    const normed = layerNorm(b, h, `${layer}.layer_norm2`, dim, eps);
    const hidden = act(b, linear(b, normed, `${layer}.mlp.fc1`, dim, config.intermediateSize), `${layer}/mlp`);
    h = b.op('Add', [h, linear(b, hidden, `${layer}.mlp.fc2`, config.intermediateSize, dim)], {}, `${layer}/mlp_residual`);
  }
  const last = layerNorm(b, h, 'text_model.final_layer_norm', dim, eps);

  // CLIP pools the hidden state at the end-of-text token; the tokenizer gives it the highest id, so ArgMax over
  // the ids finds it (the first one when padding repeats it), exactly as transformers' CLIPTextTransformer does.
  const eosIndex = b.op('ArgMax', [ids], { axis: -1, keepdims: 0 }, 'pooler/ArgMax');
  const perRow = b.op('Unsqueeze', [eosIndex, b.constInt64([1])], {}, 'pooler/Unsqueeze');
  const pooled = b.op('GatherND', [last, perRow], { batch_dims: 1 }, 'pooler/GatherND');

  b.floatOutput('last_hidden_state', ['batch', 'sequence', dim], last);
  b.floatOutput('pooler_output', ['batch', dim], pooled);
  return b.build();
}
