// The note auto-import keeps beside dropped checkpoints: `<folder>/.easel-imports.json`, one entry per file name with
// the size and modification time it had when imported (or when its import failed). A file is imported again only
// when it changes; the checkpoint itself stays where the user put it, untouched (other tools may share the folder).
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const MARKS_FILE = '.easel-imports.json';

export interface ImportMark {
  size: number;
  mtimeMs: number;
  state: 'imported' | 'failed';
  /** The model it became (imported), or the folder that already had its name. */
  modelId?: string;
  /** Why the import failed, as the import reported it. */
  error?: string;
  at: string;
}

export async function readImportMarks(folder: string): Promise<Record<string, ImportMark>> {
  try {
    const data = JSON.parse(await readFile(join(folder, MARKS_FILE), 'utf8')) as { files?: Record<string, ImportMark> };
    return data.files ?? {};
  } catch {
    return {}; // none yet, or unreadable: at worst a file is imported once more
  }
}

// Writes to one folder's note go one after another, so two imports finishing together both land.
const writing = new Map<string, Promise<void>>();

export function writeImportMark(folder: string, fileName: string, mark: ImportMark): Promise<void> {
  const previous = writing.get(folder) ?? Promise.resolve();
  const next = previous.then(async () => {
    const files = await readImportMarks(folder);
    files[fileName] = mark;
    const path = join(folder, MARKS_FILE);
    await writeFile(`${path}.tmp`, `${JSON.stringify({ files }, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
  });
  const settled = next.catch(() => undefined);
  writing.set(folder, settled);
  void settled.then(() => {
    if (writing.get(folder) === settled) writing.delete(folder);
  });
  return next;
}
