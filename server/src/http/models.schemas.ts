// The model manager's part of the API contract: imports, the catalog and downloads. Same idiom as schemas.ts
// (TypeBox validates, `Static<>` types the routes, the websocket events and the UI).
import { Type, type Static } from '@sinclair/typebox';
import { ErrorInfo, PrecisionSchema } from './schemas.js';

export const LISTED_KINDS = ['stable-diffusion', 'checkpoint', 'upscaler', 'face-restore', 'nsfw', 'vae-approx', 'all'] as const;

export const ModelListQuery = Type.Object(
  {
    kind: Type.Optional(
      Type.String({
        maxLength: 40,
        description: 'stable-diffusion (default), checkpoint (single files waiting to be imported), upscaler, face-restore, nsfw, vae-approx, or all',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ModelListQuery = Static<typeof ModelListQuery>;

// Checked with the querystring, before an upload's body is read: a bad value costs no upload.
const precision = PrecisionSchema;

const modelName = Type.String({
  minLength: 1,
  maxLength: 100,
  description: 'the model folder and id: letters, digits, spaces, ".", "_" or "-"; defaults to the file name',
});

export const ImportRequest = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 4096, description: "a .safetensors checkpoint or a diffusers folder on the server's disk" }),
    config: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'a diffusers config folder (config.json per network)' })),
    name: Type.Optional(modelName),
    precision: Type.Optional(precision),
  },
  { additionalProperties: false },
);
export type ImportRequest = Static<typeof ImportRequest>;

export const UploadQuery = Type.Object(
  {
    filename: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'the uploaded file name; names the model when `name` is absent' })),
    name: Type.Optional(modelName),
    config: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    precision: Type.Optional(precision),
  },
  { additionalProperties: false },
);
export type UploadQuery = Static<typeof UploadQuery>;

export const ImportState = Type.Union(['queued', 'running', 'done', 'failed', 'cancelled'].map((s) => Type.Literal(s)));
export type ImportState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export const ImportOrigin = Type.Union(['path', 'upload', 'auto', 'download'].map((s) => Type.Literal(s)));
export type ImportOrigin = 'path' | 'upload' | 'auto' | 'download';

export const ImportView = Type.Object({
  id: Type.String(),
  /** The model id it becomes (its folder under stable-diffusion/). */
  name: Type.String(),
  /** The checkpoint's file name (or the folder's), for display. */
  source: Type.String(),
  origin: ImportOrigin,
  state: ImportState,
  /** 'text_encoder' | 'unet' | 'vae_decoder' | 'vae_encoder' | 'files' while running. */
  stage: Type.Union([Type.String(), Type.Null()]),
  /** 0–1 over the whole import, weighted by how much each network writes. */
  progress: Type.Number(),
  /** "SD 1.x", "SD 2.x inpainting", … once known. */
  description: Type.Union([Type.String(), Type.Null()]),
  /** The networks' float type: fp32, or fp16 for GPUs. */
  precision: PrecisionSchema,
  warnings: Type.Array(Type.String()),
  error: Type.Union([ErrorInfo, Type.Null()]),
  createdAt: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
});
export type ImportView = Static<typeof ImportView>;

export const ImportCreated = Type.Object({ importId: Type.String() });
export type ImportCreated = Static<typeof ImportCreated>;

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
export type IdParams = Static<typeof IdParams>;

export const DownloadRequest = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export type DownloadRequest = Static<typeof DownloadRequest>;

export const DownloadView = Type.Object({
  /** The catalog id. */
  id: Type.String(),
  phase: Type.Union([Type.Literal('downloading'), Type.Literal('converting'), Type.Literal('done'), Type.Literal('failed')]),
  received: Type.Number(),
  total: Type.Number(),
  bytesPerSecond: Type.Number(),
  /** True while the total leans on the catalog's approximate size. */
  estimated: Type.Boolean(),
  /** The file being fetched, relative to the model folder. */
  file: Type.Union([Type.String(), Type.Null()]),
  /** For catalog entries that need conversion: the import that follows the download. */
  importId: Type.Union([Type.String(), Type.Null()]),
});
export type DownloadView = Static<typeof DownloadView>;

export const CatalogItem = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  name: Type.String(),
  description: Type.String(),
  family: Type.Union([Type.String(), Type.Null()]),
  sizeBytes: Type.Number(),
  homepage: Type.String(),
  licence: Type.Object({ id: Type.String(), name: Type.String(), url: Type.String(), nonCommercial: Type.Boolean() }),
  needsConversion: Type.Boolean(),
  /** installed: ready to use; partial: an unfinished download (or one not converted yet) that a new start resumes. */
  state: Type.Union([Type.Literal('installed'), Type.Literal('partial'), Type.Literal('absent')]),
  download: Type.Union([DownloadView, Type.Null()]),
});
export type CatalogItem = Static<typeof CatalogItem>;

/** Websocket events of the model manager (part of events.ts's WsEvent union). */
export type ModelEvent =
  | { type: 'model.import.progress'; import: ImportView }
  | { type: 'model.import.done'; import: ImportView }
  | { type: 'model.import.failed'; import: ImportView; error: ErrorInfo }
  | { type: 'model.download.progress'; download: DownloadView }
  | { type: 'model.download.done'; download: DownloadView }
  | { type: 'model.download.failed'; download: DownloadView; error: ErrorInfo };
