// Installing a catalog entry, for the server and the CLI alike. ONNX entries download straight into
// `<models>/<kind>/<id>/`. Entries that need conversion download their diffusers weights into the hidden
// `<models>/.easel-sources/` first; the importer then writes the ONNX model to `<models>/stable-diffusion/<id>/` and
// the weights are deleted. Until then the entry counts as "partial", and starting it again resumes where it stopped.
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CatalogEntry } from './catalog.js';
import { discardDownload, downloadModel, downloadState, modelFolder, type ModelDownloadOptions } from './download.js';

export type CatalogState = 'installed' | 'partial' | 'absent';

/** Downloaded weights waiting for conversion; hidden, so the registry does not list them. */
export const sourcesDir = (modelsDir: string): string => join(modelsDir, '.easel-sources');

export async function catalogState(entry: CatalogEntry, modelsDir: string): Promise<CatalogState> {
  if (!entry.needsConversion) return downloadState(entry, modelsDir);
  if (await exists(modelFolder(entry, modelsDir))) return 'installed';
  return (await downloadState(entry, sourcesDir(modelsDir))) === 'absent' ? 'absent' : 'partial';
}

export interface FetchedModel {
  /** Where the downloaded files are. */
  dir: string;
  /** Where the model ends up: `dir` itself, or the folder the conversion writes. */
  installDir: string;
  needsConversion: boolean;
}

/** Downloads (or resumes) an entry's files; conversion, where needed, is the caller's next step. */
export async function fetchCatalogModel(entry: CatalogEntry, modelsDir: string, opts: ModelDownloadOptions = {}): Promise<FetchedModel> {
  const installDir = modelFolder(entry, modelsDir);
  if (!entry.needsConversion) {
    const { dir } = await downloadModel(entry, modelsDir, opts);
    return { dir, installDir, needsConversion: false };
  }
  const { dir } = await downloadModel(entry, sourcesDir(modelsDir), opts);
  return { dir, installDir, needsConversion: true };
}

/** Deletes whatever an unfinished install left: a partial download, or downloaded weights not converted yet. */
export async function discardCatalogModel(entry: CatalogEntry, modelsDir: string): Promise<void> {
  if (!entry.needsConversion) return discardDownload(entry, modelsDir);
  await discardDownload(entry, sourcesDir(modelsDir));
  await rm(modelFolder(entry, sourcesDir(modelsDir)), { recursive: true, force: true });
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);
