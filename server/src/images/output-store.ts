// Where finished images live on disk: `<outputs>/<image id>.<ext>`. Image ids are generated here and checked
// on the way back in, so a request can never name a path outside the folder.
import { access, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutputFormat } from './encode.js';

const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,80}$/;
const EXTENSIONS: Record<OutputFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };
export const MIME: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp' };

export class OutputStore {
  constructor(readonly dir: string) {}

  static imageId(jobId: string, index: number): string {
    return `${jobId}-${index}`;
  }

  async save(id: string, format: OutputFormat, bytes: Uint8Array): Promise<string> {
    if (!ID_PATTERN.test(id)) throw new Error(`bad image id ${id}`);
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, `${id}.${EXTENSIONS[format]}`);
    // Written aside then renamed, so a crash never leaves half an image under a real name.
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, bytes);
    await rename(temp, file);
    return file;
  }

  /** The file of an image id, or undefined when there is none. */
  async find(id: string): Promise<{ file: string; mime: string } | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    for (const ext of Object.values(EXTENSIONS)) {
      const file = join(this.dir, `${id}.${ext}`);
      const found = await access(file).then(() => true, () => false);
      if (found) return { file, mime: MIME[ext] as string };
    }
    return undefined;
  }

  /** Deletes an image's file; false when there was none. */
  async remove(id: string): Promise<boolean> {
    const found = await this.find(id);
    if (!found) return false;
    await unlink(found.file);
    return true;
  }
}
