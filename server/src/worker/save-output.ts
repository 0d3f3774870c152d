// Saves one finished image the way its job asks: Easel's `<job id>-<index>` name, or the user's folder and file
// name patterns (images/file-names.ts, indexed by the output store so the image id still finds the file), plus the
// optional `.txt` (infotext) and `.json` (request) sidecars beside it.
import { outputRelativePath } from '../images/file-names.js';
import { OutputStore } from '../images/output-store.js';
import { findSampler } from '../pipeline/schedulers/samplers.js';
import type { RenderJob } from './protocol.js';

export interface FinishedImage {
  imageId: string;
  index: number;
  seed: number;
  width: number;
  height: number;
  bytes: Uint8Array;
  /** The A1111 infotext, for the .txt sidecar. */
  parameters: string;
  /** The request as JSON, for the .json sidecar. */
  easel: string;
}

/** Returns the saved file's path. */
export async function saveOutput(job: RenderJob, image: FinishedImage): Promise<string> {
  const store = new OutputStore(job.outputsDir);
  const saveAs = job.saveAs;
  let file: string;
  if (saveAs?.folder || saveAs?.fileName) {
    const date = new Date();
    const sampler = findSampler(job.sampler)?.name ?? job.sampler;
    file = await store.saveNamed(image.imageId, job.outputFormat, image.bytes, (counter) =>
      outputRelativePath(saveAs, { ...job, ...image, date, sampler, jobId: job.id, counter }),
    );
  } else {
    file = await store.save(image.imageId, job.outputFormat, image.bytes);
  }
  if (saveAs?.txt) await OutputStore.writeSidecar(file, 'txt', `${image.parameters}\n`);
  if (saveAs?.json) await OutputStore.writeSidecar(file, 'json', `${JSON.stringify(JSON.parse(image.easel), null, 2)}\n`);
  return file;
}
