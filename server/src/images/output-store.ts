// Where finished images live on disk: `<outputs>/<image id>.<ext>`, or a path made from the user's folder and
// file-name patterns; then `<outputs>/.paths/<image id>` records that path so the id keeps finding its file.
// Image ids are generated here and checked on the way back in, so a request can never name a path outside the
// folder.
import { access, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import type { OutputFormat } from './encode.js';

const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,80}$/;
/** The id → path index; file-names.ts never makes a segment starting with a dot, so no pattern lands here. */
const PATHS_DIR = '.paths';
const SIDECARS = ['txt', 'json'] as const;
const exists = (file: string): Promise<boolean> => access(file).then(() => true, () => false);
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
    await writeAtomic(file, bytes);
    return file;
  }

  /**
   * Saves under a name from the user's patterns: `nameFor(counter)` gives the path relative to the outputs folder,
   * `/`-separated, without extension (file-names.ts). The counter starts at 1 + the images already in that folder
   * and rises while the name is taken; a name without a counter gets "-2", "-3"… instead. An id saved before (a job
   * re-run after a crash) keeps its file.
   */
  async saveNamed(id: string, format: OutputFormat, bytes: Uint8Array, nameFor: (counter: number) => string): Promise<string> {
    if (!ID_PATTERN.test(id)) throw new Error(`bad image id ${id}`);
    const ext = EXTENSIONS[format];
    const earlier = await this.indexed(id);
    let file = earlier && extname(earlier) === `.${ext}` ? earlier : undefined;
    if (!file) {
      const folder = dirname(this.inside(`${nameFor(1)}.${ext}`));
      const images = (await readdir(folder).catch(() => [] as string[])).filter((n) => /\.(png|jpg|webp)$/i.test(n));
      const first = images.length + 1;
      for (let attempt = 0; !file || (await exists(file)); attempt++) {
        const name = nameFor(first + attempt);
        const unchanged = attempt > 0 && name === nameFor(first);
        file = this.inside(`${name}${unchanged ? `-${attempt + 1}` : ''}.${ext}`);
        if (attempt > 10_000) throw new Error(`no free file name for ${name} in ${folder}`);
      }
    }
    await writeAtomic(file, bytes);
    await writeAtomic(join(this.dir, PATHS_DIR, id), Buffer.from(file.slice(resolve(this.dir).length + 1).split(sep).join('/')));
    return file;
  }

  /** Writes `<image file without extension>.<kind>` beside an image: its infotext (.txt) or request (.json). */
  static async writeSidecar(imageFile: string, kind: (typeof SIDECARS)[number], text: string): Promise<void> {
    await writeAtomic(`${imageFile.slice(0, -extname(imageFile).length)}.${kind}`, Buffer.from(text, 'utf8'));
  }

  /** The file of an image id, or undefined when there is none. */
  async find(id: string): Promise<{ file: string; mime: string } | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    for (const ext of Object.values(EXTENSIONS)) {
      const file = join(this.dir, `${id}.${ext}`);
      if (await exists(file)) return { file, mime: MIME[ext] as string };
    }
    const named = await this.indexed(id);
    return named ? { file: named, mime: MIME[extname(named).slice(1)] ?? 'application/octet-stream' } : undefined;
  }

  /** Deletes an image's file, its sidecars and its index entry; false when there was none. */
  async remove(id: string): Promise<boolean> {
    const found = await this.find(id);
    if (!found) return false;
    await unlink(found.file);
    const stem = found.file.slice(0, -extname(found.file).length);
    for (const kind of SIDECARS) await unlink(`${stem}.${kind}`).catch(() => undefined);
    await unlink(join(this.dir, PATHS_DIR, id)).catch(() => undefined);
    return true;
  }

  /** The file recorded for an id saved under a pattern, if it is still there. */
  private async indexed(id: string): Promise<string | undefined> {
    const relative = await readFile(join(this.dir, PATHS_DIR, id), 'utf8').catch(() => undefined);
    if (!relative) return undefined;
    try {
      const file = this.inside(relative);
      return (await exists(file)) ? file : undefined;
    } catch {
      return undefined;
    }
  }

  /** A path under the outputs folder; anything that would leave it is refused. */
  private inside(relative: string): string {
    const root = resolve(this.dir);
    const file = resolve(root, ...relative.split('/'));
    if (!file.startsWith(root + sep)) throw new Error(`output path ${relative} leaves the outputs folder`);
    return file;
  }
}

/** Written aside then renamed, so a crash never leaves half a file under a real name. */
async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, bytes);
  await rename(temp, file);
}
