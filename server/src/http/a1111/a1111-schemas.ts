// The AUTOMATIC1111 request shapes, as far as Easel reads them. A1111 tolerates unknown fields and null for any
// optional one (null means "the default"), and clients rely on both, so every object here allows extra keys and
// every field allows null. Ranges are not checked here: the mapped request goes through Easel's own JobRequest
// rules, so the two APIs cannot drift apart.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const opt = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));
const loose = { additionalProperties: true } as const;

const commonFields = {
  prompt: opt(Type.String()),
  negative_prompt: opt(Type.String()),
  styles: opt(Type.Array(Type.String())),
  seed: opt(Type.Number()),
  subseed: opt(Type.Number()),
  subseed_strength: opt(Type.Number()),
  sampler_name: opt(Type.String()),
  sampler_index: opt(Type.String()),
  scheduler: opt(Type.String()),
  batch_size: opt(Type.Number()),
  n_iter: opt(Type.Number()),
  steps: opt(Type.Number()),
  cfg_scale: opt(Type.Number()),
  width: opt(Type.Number()),
  height: opt(Type.Number()),
  restore_faces: opt(Type.Boolean()),
  denoising_strength: opt(Type.Number()),
  override_settings: opt(Type.Object({}, loose)),
  override_settings_restore_afterwards: opt(Type.Boolean()),
  send_images: opt(Type.Boolean()),
  save_images: opt(Type.Boolean()),
  script_name: opt(Type.String()),
  alwayson_scripts: opt(Type.Object({}, loose)),
};

export const Txt2ImgBody = Type.Object(
  { ...commonFields, enable_hr: opt(Type.Boolean()), hr_scale: opt(Type.Number()), hr_upscaler: opt(Type.String()) },
  loose,
);
export type Txt2ImgBody = Static<typeof Txt2ImgBody>;

export const Img2ImgBody = Type.Object(
  {
    ...commonFields,
    init_images: opt(Type.Array(Type.String())),
    mask: opt(Type.String()),
    inpainting_fill: opt(Type.Number()),
    // A1111 declares an int and clients send 0/1 or false/true.
    inpainting_mask_invert: opt(Type.Union([Type.Number(), Type.Boolean()])),
    include_init_images: opt(Type.Boolean()),
  },
  loose,
);
export type Img2ImgBody = Static<typeof Img2ImgBody>;

export type GenerateBody = Txt2ImgBody & Partial<Img2ImgBody>;

export const ProgressQuery = Type.Object({ skip_current_image: Type.Optional(Type.String()) }, loose);
export type ProgressQuery = Static<typeof ProgressQuery>;

export const ImageBody = Type.Object({ image: Type.String({ minLength: 1 }) }, loose);
export type ImageBody = Static<typeof ImageBody>;

export const ExtrasSingleBody = Type.Object(
  {
    image: Type.String({ minLength: 1 }),
    resize_mode: opt(Type.Number()),
    upscaling_resize: opt(Type.Number()),
    upscaling_resize_w: opt(Type.Number()),
    upscaling_resize_h: opt(Type.Number()),
    upscaling_crop: opt(Type.Boolean()),
    upscaler_1: opt(Type.String()),
    upscaler_2: opt(Type.String()),
    extras_upscaler_2_visibility: opt(Type.Number()),
    gfpgan_visibility: opt(Type.Number()),
    codeformer_visibility: opt(Type.Number()),
  },
  loose,
);
export type ExtrasSingleBody = Static<typeof ExtrasSingleBody>;

export const ExtrasBatchBody = Type.Object(
  {
    ...ExtrasSingleBody.properties,
    image: Type.Optional(Type.String()),
    imageList: Type.Array(Type.Object({ data: Type.String({ minLength: 1 }), name: opt(Type.String()) }, loose)),
  },
  loose,
);
export type ExtrasBatchBody = Static<typeof ExtrasBatchBody>;

/**
 * What A1111 echoes back as `parameters`: its request model with every default filled in. Only these keys are
 * echoed (pydantic drops the rest), so a client sees the same keys it would from A1111.
 */
export const COMMON_DEFAULTS = {
  prompt: '',
  negative_prompt: '',
  styles: null,
  seed: -1,
  subseed: -1,
  subseed_strength: 0,
  seed_resize_from_h: -1,
  seed_resize_from_w: -1,
  sampler_name: null,
  scheduler: null,
  batch_size: 1,
  n_iter: 1,
  steps: 50,
  cfg_scale: 7,
  width: 512,
  height: 512,
  restore_faces: null,
  tiling: null,
  do_not_save_samples: false,
  do_not_save_grid: false,
  eta: null,
  denoising_strength: 0.75,
  override_settings: null,
  override_settings_restore_afterwards: true,
  refiner_checkpoint: null,
  refiner_switch_at: null,
  disable_extra_networks: false,
  comments: null,
  sampler_index: 'Euler',
  script_name: null,
  script_args: [],
  send_images: true,
  save_images: false,
  alwayson_scripts: {},
  force_task_id: null,
  infotext: null,
} as const;

export const TXT2IMG_DEFAULTS = {
  ...COMMON_DEFAULTS,
  enable_hr: false,
  firstphase_width: 0,
  firstphase_height: 0,
  hr_scale: 2,
  hr_upscaler: null,
  hr_second_pass_steps: 0,
  hr_resize_x: 0,
  hr_resize_y: 0,
  hr_checkpoint_name: null,
  hr_sampler_name: null,
  hr_prompt: '',
  hr_negative_prompt: '',
} as const;

export const IMG2IMG_DEFAULTS = {
  ...COMMON_DEFAULTS,
  init_images: null,
  resize_mode: 0,
  image_cfg_scale: null,
  mask: null,
  mask_blur_x: 4,
  mask_blur_y: 4,
  mask_blur: null,
  inpainting_fill: 0,
  inpaint_full_res: true,
  inpaint_full_res_padding: 0,
  inpainting_mask_invert: 0,
  initial_noise_multiplier: null,
  include_init_images: false,
} as const;
