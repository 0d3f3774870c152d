// The canvas editor's record of what was painted: strokes on two layers (colour painted into the picture, and
// the inpainting mask), with undo, redo and clear. Layers are redrawn from this record, so undo is exact and
// costs no pixel copies. Pure: drawing goes through a minimal 2D-context interface.

export type Layer = 'paint' | 'mask';

export interface Stroke {
  kind: 'stroke';
  layer: Layer;
  erase: boolean;
  color: string;
  size: number;
  /** x0, y0, x1, y1, … in picture pixels. */
  points: number[];
}

export interface Clear {
  kind: 'clear';
  layer: Layer;
}

export type PaintAction = Stroke | Clear;

export class PaintHistory {
  #done: PaintAction[] = [];
  #undone: PaintAction[] = [];

  get canUndo(): boolean {
    return this.#done.length > 0;
  }

  get canRedo(): boolean {
    return this.#undone.length > 0;
  }

  /** A new action; anything undone before it can no longer be redone. */
  push(action: PaintAction): void {
    this.#done.push(action);
    this.#undone = [];
  }

  undo(): PaintAction | undefined {
    const action = this.#done.pop();
    if (action) this.#undone.push(action);
    return action;
  }

  redo(): PaintAction | undefined {
    const action = this.#undone.pop();
    if (action) this.#done.push(action);
    return action;
  }

  /** What the layer shows now: whether it was cleared (hiding what it started with) and the strokes since. */
  layer(layer: Layer): { cleared: boolean; strokes: Stroke[] } {
    const own = this.#done.filter((a) => a.layer === layer);
    const lastClear = own.map((a) => a.kind).lastIndexOf('clear');
    return { cleared: lastClear >= 0, strokes: own.slice(lastClear + 1) as Stroke[] };
  }

  /** Whether the layer differs from how it started. */
  touched(layer: Layer): boolean {
    return this.#done.some((a) => a.layer === layer);
  }
}

/** The part of CanvasRenderingContext2D that painting needs. */
export interface PaintContext {
  globalCompositeOperation: GlobalCompositeOperation;
  strokeStyle: string | CanvasGradient | CanvasPattern;
  fillStyle: string | CanvasGradient | CanvasPattern;
  lineWidth: number;
  lineCap: CanvasLineCap;
  lineJoin: CanvasLineJoin;
  beginPath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  arc(x: number, y: number, radius: number, start: number, end: number): void;
  stroke(): void;
  fill(): void;
}

/** Draws one stroke: round caps and joins, a dot for a tap; erasing cuts through to transparency. */
export function drawStroke(ctx: PaintContext, stroke: Stroke, color = stroke.color): void {
  const [x0, y0] = stroke.points;
  if (x0 === undefined || y0 === undefined) return;
  ctx.globalCompositeOperation = stroke.erase ? 'destination-out' : 'source-over';
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = stroke.size;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.beginPath();
  if (stroke.points.length === 2) {
    ctx.arc(x0, y0, stroke.size / 2, 0, Math.PI * 2);
    ctx.fill();
  } else {
    ctx.moveTo(x0, y0);
    for (let i = 2; i + 1 < stroke.points.length; i += 2) ctx.lineTo(stroke.points[i] as number, stroke.points[i + 1] as number);
    ctx.stroke();
  }
  ctx.globalCompositeOperation = 'source-over';
}
