// The original single-file Stable Diffusion layout (CompVis/Stability LDM state dicts, as A1111 and model sites
// share them) → diffusers parameter names, and model-family detection from tensor names and shapes.
//   model.diffusion_model.*                      → unet
//   first_stage_model.*                          → vae
//   cond_stage_model.transformer.[text_model.]*  → text_encoder (SD 1.x, OpenAI CLIP in transformers layout)
//   cond_stage_model.model.*                     → text_encoder (SD 2.x, OpenCLIP; fused in_proj split into q/k/v)
// The mapping follows diffusers' convert_ldm_unet_checkpoint / convert_ldm_vae_checkpoint /
// convert_open_clip_checkpoint. Whether an SD 2.x model predicts ε or v is not visible in its tensors: that is decided
// by the importer (flag, config folder, `v_pred` marker key, LDM yaml), see import-checkpoint.ts.
import { UnsupportedModelError } from './sd-config.js';

export type Component = 'text_encoder' | 'unet' | 'vae';
export type Family = 'sd1' | 'sd2';

export interface KeyTarget {
  component: Component;
  /** The diffusers / transformers parameter name within the component. */
  name: string;
  /** For a fused OpenCLIP in_proj: which third of the rows (0 = q, 1 = k, 2 = v). */
  third?: 0 | 1 | 2;
}

export interface CheckpointInfo {
  family: Family;
  inpainting: boolean;
  unetInChannels: number;
  /** A `v_pred` marker tensor is present (some trainers add one to v-prediction checkpoints). */
  vPredictionMarker: boolean;
  /** For messages: "SD 1.x", "SD 2.x inpainting", … */
  description: string;
}

const UNET = 'model.diffusion_model.';
const VAE = 'first_stage_model.';
const CLIP = 'cond_stage_model.transformer.';
const OPEN_CLIP = 'cond_stage_model.model.';

/** Families recognised only to be refused clearly: [name prefix or infix, what it is]. */
const UNSUPPORTED_MARKERS: [RegExp, string][] = [
  [/^conditioner\.embedders\./, 'an SDXL-family checkpoint (SDXL base/refiner, Pony, Illustrious, SVD…)'],
  [/^model\.diffusion_model\.label_emb\./, 'a class-conditioned UNet (SDXL or SD 2.x unCLIP)'],
  [/^model\.diffusion_model\.joint_blocks\./, 'a Stable Diffusion 3 checkpoint'],
  [/(^|\.)double_blocks\./, 'a Flux checkpoint'],
  [/^lora_(unet|te)_|\.lora_(up|down)\.|\.lora_[AB]\./, 'a LoRA (an add-on for a model, not a model)'],
];

/**
 * Detects an SD 1.x / 2.x (optionally inpainting) single-file checkpoint from its tensor names and shapes, or throws
 * UnsupportedModelError naming what it looks like instead.
 */
export function detectCheckpoint(
  names: readonly string[],
  shapeOf: (name: string) => readonly number[] | undefined,
): CheckpointInfo {
  for (const [pattern, what] of UNSUPPORTED_MARKERS) {
    if (names.some((n) => pattern.test(n))) {
      throw new UnsupportedModelError(`this looks like ${what}: not supported yet (only Stable Diffusion 1.x and 2.x are)`);
    }
  }
  const convIn = shapeOf(`${UNET}input_blocks.0.0.weight`);
  if (!convIn) {
    throw new UnsupportedModelError(
      `no Stable Diffusion UNet (${UNET}input_blocks.*) in the file: not an SD 1.x/2.x checkpoint ` +
        '(a VAE, embedding or other model type is not supported yet)',
    );
  }
  if (!names.some((n) => n.startsWith(VAE))) {
    throw new UnsupportedModelError(`the checkpoint has no VAE (${VAE}*); UNet-only files are not supported yet`);
  }
  let family: Family;
  if (names.some((n) => n.startsWith(OPEN_CLIP))) family = 'sd2';
  else if (names.some((n) => n.startsWith(CLIP))) family = 'sd1';
  else throw new UnsupportedModelError('the checkpoint has no text encoder (cond_stage_model.*): not supported yet');

  const unetInChannels = convIn[1];
  if (unetInChannels !== 4 && unetInChannels !== 9) {
    const what = unetInChannels === 8 ? ' (InstructPix2Pix?)' : unetInChannels === 5 ? ' (SD 2 depth?)' : '';
    throw new UnsupportedModelError(
      `a UNet with ${unetInChannels} input channels${what} is not supported yet (4: text-to-image, 9: inpainting)`,
    );
  }
  const inpainting = unetInChannels === 9;
  return {
    family,
    inpainting,
    unetInChannels,
    vPredictionMarker: names.includes('v_pred'),
    description: `${family === 'sd1' ? 'SD 1.x' : 'SD 2.x'}${inpainting ? ' inpainting' : ''}`,
  };
}

export interface LayoutSizes {
  /** UNet resnets per down block (the up blocks have one more). */
  unetLayersPerBlock: number;
  /** Number of VAE resolution levels (decoder.up.{i} runs in reverse order of diffusers' up_blocks). */
  vaeLevels: number;
}

/** Maps one checkpoint tensor to its diffusers parameter(s); [] for tensors the ONNX models do not use. */
export function mapCheckpointKey(key: string, info: CheckpointInfo, sizes: LayoutSizes): KeyTarget[] {
  if (key.startsWith(UNET)) {
    const name = mapUnetKey(key.slice(UNET.length), sizes.unetLayersPerBlock);
    return name ? [{ component: 'unet', name }] : [];
  }
  if (key.startsWith(VAE)) {
    const name = mapVaeKey(key.slice(VAE.length), sizes.vaeLevels);
    return name ? [{ component: 'vae', name }] : [];
  }
  if (info.family === 'sd1' && key.startsWith(CLIP)) {
    const rest = key.slice(CLIP.length);
    if (rest.endsWith('position_ids')) return [];
    // Older transformers versions saved CLIPTextModel without the `text_model.` level.
    return [{ component: 'text_encoder', name: rest.startsWith('text_model.') ? rest : `text_model.${rest}` }];
  }
  if (info.family === 'sd2' && key.startsWith(OPEN_CLIP)) return mapOpenClipKey(key.slice(OPEN_CLIP.length));
  return [];
}

const RESNET_RENAMES: [string, string][] = [
  ['in_layers.0.', 'norm1.'],
  ['in_layers.2.', 'conv1.'],
  ['out_layers.0.', 'norm2.'],
  ['out_layers.3.', 'conv2.'],
  ['emb_layers.1.', 'time_emb_proj.'],
  ['skip_connection.', 'conv_shortcut.'],
];

function renameResnet(rest: string): string {
  for (const [from, to] of RESNET_RENAMES) if (rest.startsWith(from)) return to + rest.slice(from.length);
  return rest;
}

function mapUnetKey(key: string, layersPerBlock: number): string | undefined {
  const simple: [string, string][] = [
    ['time_embed.0.', 'time_embedding.linear_1.'],
    ['time_embed.2.', 'time_embedding.linear_2.'],
    ['input_blocks.0.0.', 'conv_in.'],
    ['out.0.', 'conv_norm_out.'],
    ['out.2.', 'conv_out.'],
  ];
  for (const [from, to] of simple) if (key.startsWith(from)) return to + key.slice(from.length);

  let m = /^input_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const index = Number(m[1]) - 1;
    const block = Math.floor(index / (layersPerBlock + 1));
    const layer = index % (layersPerBlock + 1);
    const [part, rest] = [Number(m[2]), m[3]];
    if (rest.startsWith('op.')) return `down_blocks.${block}.downsamplers.0.conv.${rest.slice(3)}`;
    if (part === 0) return `down_blocks.${block}.resnets.${layer}.${renameResnet(rest)}`;
    return `down_blocks.${block}.attentions.${layer}.${rest}`;
  }
  m = /^middle_block\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const [part, rest] = [Number(m[1]), m[2]];
    if (part === 1) return `mid_block.attentions.0.${rest}`;
    return `mid_block.resnets.${part / 2}.${renameResnet(rest)}`;
  }
  m = /^output_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const index = Number(m[1]);
    const block = Math.floor(index / (layersPerBlock + 1));
    const layer = index % (layersPerBlock + 1);
    const [part, rest] = [Number(m[2]), m[3]];
    if (part === 0) return `up_blocks.${block}.resnets.${layer}.${renameResnet(rest)}`;
    // The upsampler is the block's last module: index 1 without attention, 2 with it.
    if (rest.startsWith('conv.')) return `up_blocks.${block}.upsamplers.0.conv.${rest.slice(5)}`;
    return `up_blocks.${block}.attentions.${layer}.${rest}`;
  }
  return undefined;
}

const VAE_ATTENTION_RENAMES: Record<string, string> = {
  norm: 'group_norm',
  q: 'to_q',
  k: 'to_k',
  v: 'to_v',
  proj_out: 'to_out.0',
};

function mapVaeKey(key: string, levels: number): string | undefined {
  if (/^(quant_conv|post_quant_conv)\./.test(key)) return key;
  let m = /^(encoder|decoder)\.(conv_in|conv_out)\.(.+)$/.exec(key);
  if (m) return key;
  m = /^(encoder|decoder)\.norm_out\.(.+)$/.exec(key);
  if (m) return `${m[1]}.conv_norm_out.${m[2]}`;
  m = /^(encoder|decoder)\.mid\.block_(\d)\.(.+)$/.exec(key);
  if (m) return `${m[1]}.mid_block.resnets.${Number(m[2]) - 1}.${renameVaeResnet(m[3])}`;
  m = /^(encoder|decoder)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(.+)$/.exec(key);
  if (m) return `${m[1]}.mid_block.attentions.0.${VAE_ATTENTION_RENAMES[m[2]]}.${m[3]}`;
  m = /^encoder\.down\.(\d+)\.block\.(\d+)\.(.+)$/.exec(key);
  if (m) return `encoder.down_blocks.${m[1]}.resnets.${m[2]}.${renameVaeResnet(m[3])}`;
  m = /^encoder\.down\.(\d+)\.downsample\.conv\.(.+)$/.exec(key);
  if (m) return `encoder.down_blocks.${m[1]}.downsamplers.0.conv.${m[2]}`;
  m = /^decoder\.up\.(\d+)\.block\.(\d+)\.(.+)$/.exec(key);
  if (m) return `decoder.up_blocks.${levels - 1 - Number(m[1])}.resnets.${m[2]}.${renameVaeResnet(m[3])}`;
  m = /^decoder\.up\.(\d+)\.upsample\.conv\.(.+)$/.exec(key);
  if (m) return `decoder.up_blocks.${levels - 1 - Number(m[1])}.upsamplers.0.conv.${m[2]}`;
  return undefined; // e.g. loss.* (training-only discriminator/LPIPS weights)
}

function renameVaeResnet(rest: string): string {
  return rest.startsWith('nin_shortcut.') ? `conv_shortcut.${rest.slice('nin_shortcut.'.length)}` : rest;
}

function mapOpenClipKey(key: string): KeyTarget[] {
  const te = (name: string, third?: 0 | 1 | 2): KeyTarget => ({ component: 'text_encoder', name, third });
  if (key === 'token_embedding.weight') return [te('text_model.embeddings.token_embedding.weight')];
  if (key === 'positional_embedding') return [te('text_model.embeddings.position_embedding.weight')];
  let m = /^ln_final\.(weight|bias)$/.exec(key);
  if (m) return [te(`text_model.final_layer_norm.${m[1]}`)];
  m = /^transformer\.resblocks\.(\d+)\.(.+)$/.exec(key);
  if (!m) return []; // text_projection, logit_scale, attn_mask: not part of CLIPTextModel
  const layer = `text_model.encoder.layers.${m[1]}`;
  const rest = m[2];
  const fused = /^attn\.in_proj_(weight|bias)$/.exec(rest);
  if (fused) {
    return (['q_proj', 'k_proj', 'v_proj'] as const).map((p, i) => te(`${layer}.self_attn.${p}.${fused[1]}`, i as 0 | 1 | 2));
  }
  const renames: [string, string][] = [
    ['ln_1.', 'layer_norm1.'],
    ['ln_2.', 'layer_norm2.'],
    ['mlp.c_fc.', 'mlp.fc1.'],
    ['mlp.c_proj.', 'mlp.fc2.'],
    ['attn.out_proj.', 'self_attn.out_proj.'],
  ];
  for (const [from, to] of renames) if (rest.startsWith(from)) return [te(`${layer}.${to}${rest.slice(from.length)}`)];
  return [];
}

/** Older diffusers folders (before 0.14) name the VAE attention query/key/value/proj_attn: the current name. */
export function modernDiffusersName(name: string): string | undefined {
  const m = /^(.*\.mid_block\.attentions\.0\.)(query|key|value|proj_attn)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const modern = { query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0' }[m[2]];
  return `${m[1]}${modern}.${m[3]}`;
}
