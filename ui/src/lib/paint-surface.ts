// The canvas editor's drawing surface: two canvases the size of the picture (colour paint, and the mask shown
// in a tint), pointer input turned into strokes in picture pixels, and the PNGs a job needs on save.
import { PaintHistory, drawStroke, type Layer, type Stroke } from './paint-history.js';

/** How the mask looks while painting; it is exported white-on-transparent (white = repaint). */
const MASK_TINT = '#ff3d9a';

export interface BrushSettings {
  layer: Layer;
  erase: boolean;
  color: string;
  size: number;
}

export class PaintSurface {
  readonly history = new PaintHistory();
  #active: Stroke | null = null;
  /** The mask the editor opened with, as white with alpha (black in a black-and-white mask reads as keep). */
  #startMask: HTMLCanvasElement | null = null;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly paint: HTMLCanvasElement,
    private readonly mask: HTMLCanvasElement,
  ) {
    for (const canvas of [paint, mask]) {
      canvas.width = width;
      canvas.height = height;
    }
  }

  setStartMask(image: HTMLImageElement): void {
    const canvas = blank(this.width, this.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) return;
    ctx.drawImage(image, 0, 0, this.width, this.height);
    const pixels = ctx.getImageData(0, 0, this.width, this.height);
    const d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      const lightness = ((d[i] as number) + (d[i + 1] as number) + (d[i + 2] as number)) / 3;
      d[i + 3] = Math.round(((d[i + 3] as number) * lightness) / 255);
      d[i] = d[i + 1] = d[i + 2] = 255;
    }
    ctx.putImageData(pixels, 0, 0);
    this.#startMask = canvas;
    this.redraw('mask');
  }

  /** Picture pixels under a pointer event over `target` (the element the canvases fill). */
  toPicture(event: PointerEvent, target: Element): [number, number] {
    const rect = target.getBoundingClientRect();
    return [((event.clientX - rect.left) * this.width) / rect.width, ((event.clientY - rect.top) * this.height) / rect.height];
  }

  begin(brush: BrushSettings, x: number, y: number): void {
    this.#active = { kind: 'stroke', layer: brush.layer, erase: brush.erase, color: brush.color, size: brush.size, points: [x, y] };
    this.history.push(this.#active);
    this.redraw(brush.layer);
  }

  extend(x: number, y: number): void {
    const stroke = this.#active;
    if (!stroke) return;
    const [px, py] = stroke.points.slice(-2) as [number, number];
    stroke.points.push(x, y);
    // Only the new segment: replaying every stroke on each pointer move would lag on a long session.
    const ctx = (stroke.layer === 'paint' ? this.paint : this.mask).getContext('2d');
    if (ctx) drawStroke(ctx, { ...stroke, points: [px, py, x, y] }, stroke.layer === 'mask' ? MASK_TINT : stroke.color);
  }

  end(): void {
    this.#active = null;
  }

  undo(): void {
    const action = this.history.undo();
    if (action) this.redraw(action.layer);
  }

  redo(): void {
    const action = this.history.redo();
    if (action) this.redraw(action.layer);
  }

  clear(layer: Layer): void {
    this.history.push({ kind: 'clear', layer });
    this.redraw(layer);
  }

  redraw(layer: Layer): void {
    const canvas = layer === 'paint' ? this.paint : this.mask;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, this.width, this.height);
    this.#render(ctx, layer, layer === 'mask' ? MASK_TINT : null);
  }

  /** The mask as a PNG data URL (white = repaint), or null when nothing is masked. */
  exportMask(): string | null {
    const canvas = blank(this.width, this.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) return null;
    this.#render(ctx, 'mask', '#ffffff');
    const alpha = ctx.getImageData(0, 0, this.width, this.height).data;
    for (let i = 3; i < alpha.length; i += 4) if ((alpha[i] as number) > 0) return canvas.toDataURL('image/png');
    return null;
  }

  /** The picture with the paint on it, as a PNG data URL; white under it when there was no picture. */
  exportPicture(base: HTMLImageElement | null): string {
    const canvas = blank(this.width, this.height);
    const ctx = canvas.getContext('2d');
    if (ctx) {
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, this.width, this.height);
      if (base) ctx.drawImage(base, 0, 0, this.width, this.height);
      ctx.drawImage(this.paint, 0, 0);
    }
    return canvas.toDataURL('image/png');
  }

  #render(ctx: CanvasRenderingContext2D, layer: Layer, tint: string | null): void {
    const { cleared, strokes } = this.history.layer(layer);
    if (layer === 'mask' && this.#startMask && !cleared) {
      ctx.drawImage(this.#startMask, 0, 0);
      if (tint) {
        ctx.globalCompositeOperation = 'source-in';
        ctx.fillStyle = tint;
        ctx.fillRect(0, 0, this.width, this.height);
        ctx.globalCompositeOperation = 'source-over';
      }
    }
    for (const stroke of strokes) drawStroke(ctx, stroke, tint ?? stroke.color);
  }
}

function blank(width: number, height: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  return canvas;
}
