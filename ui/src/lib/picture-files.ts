// Pictures from the user's files, drags and pastes, made ready for a job: a PNG, JPEG or WebP data URL the
// server accepts, at most MAX_SIDE on a side (a phone photo is 4000 px wide; the server caps pixels too).
import type { PictureRef } from './settings.js';

const MAX_SIDE = 2048;
const ACCEPTED = new Set(['image/png', 'image/jpeg', 'image/webp']);

/** The first image file in a drop or paste, if any. */
export function imageFileOf(data: DataTransfer | null): File | null {
  for (const file of data?.files ?? []) if (file.type.startsWith('image/')) return file;
  for (const item of data?.items ?? []) {
    if (item.kind === 'file' && item.type.startsWith('image/')) return item.getAsFile();
  }
  return null;
}

export function hasFiles(event: DragEvent): boolean {
  return event.dataTransfer?.types.includes('Files') ?? false;
}

/** Reads an image file; redraws it as PNG when the server would not take it as it is (GIF, BMP, too big). */
export async function readPicture(file: Blob): Promise<PictureRef> {
  const url = await dataUrlOf(file);
  const image = await loadImage(url);
  const { naturalWidth: width, naturalHeight: height } = image;
  if (ACCEPTED.has(file.type) && Math.max(width, height) <= MAX_SIDE) return { ref: url, url, width, height };
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext('2d')?.drawImage(image, 0, 0, canvas.width, canvas.height);
  const png = canvas.toDataURL('image/png');
  return { ref: png, url: png, width: canvas.width, height: canvas.height };
}

export function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error('That file could not be read as an image.'));
    image.src = src;
  });
}

export function dataUrlOf(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error('That file could not be read.'));
    reader.readAsDataURL(file);
  });
}
