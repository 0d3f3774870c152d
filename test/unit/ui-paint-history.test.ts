// The canvas editor's record of strokes: undo and redo step through actions on either layer, a new stroke drops
// what was undone, and clearing a layer is itself undoable. Drawing goes through a recording fake context.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PaintHistory, drawStroke, type PaintContext, type Stroke } from '../../ui/src/lib/paint-history.js';

const stroke = (layer: Stroke['layer'], x: number, erase = false): Stroke => ({ kind: 'stroke', layer, erase, color: '#fff', size: 10, points: [x, 0, x + 5, 5] });

describe('paint history', () => {
  it('undoes and redoes across layers in the order things were done', () => {
    const history = new PaintHistory();
    history.push(stroke('paint', 1));
    history.push(stroke('mask', 2));
    history.push(stroke('mask', 3));
    assert.equal(history.undo()?.layer, 'mask');
    assert.deepEqual(history.layer('mask').strokes.map((s) => s.points[0]), [2]);
    assert.equal(history.canRedo, true);
    history.redo();
    assert.deepEqual(history.layer('mask').strokes.map((s) => s.points[0]), [2, 3]);
    assert.deepEqual(history.layer('paint').strokes.map((s) => s.points[0]), [1]);
  });

  it('forgets what was undone once something new is painted', () => {
    const history = new PaintHistory();
    history.push(stroke('mask', 1));
    history.undo();
    history.push(stroke('mask', 2));
    assert.equal(history.canRedo, false);
    assert.deepEqual(history.layer('mask').strokes.map((s) => s.points[0]), [2]);
  });

  it('clears one layer, hiding its start, and undoes the clear', () => {
    const history = new PaintHistory();
    history.push(stroke('mask', 1));
    history.push(stroke('paint', 2));
    history.push({ kind: 'clear', layer: 'mask' });
    assert.deepEqual(history.layer('mask'), { cleared: true, strokes: [] });
    assert.equal(history.layer('paint').strokes.length, 1, 'the other layer keeps its paint');
    history.undo();
    assert.deepEqual(history.layer('mask').cleared, false);
    assert.equal(history.layer('mask').strokes.length, 1);
    assert.equal(history.touched('mask'), true);
    assert.equal(new PaintHistory().touched('paint'), false);
  });
});

describe('drawing a stroke', () => {
  function recorder(): PaintContext & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      globalCompositeOperation: 'source-over',
      strokeStyle: '',
      fillStyle: '',
      lineWidth: 1,
      lineCap: 'butt',
      lineJoin: 'miter',
      beginPath: () => calls.push('begin'),
      moveTo: (x, y) => calls.push(`move ${x},${y}`),
      lineTo: (x, y) => calls.push(`line ${x},${y}`),
      arc: (x, y, r) => calls.push(`arc ${x},${y} r${r}`),
      stroke() {
        calls.push(`stroke ${this.globalCompositeOperation} ${this.lineWidth}`);
      },
      fill: () => calls.push('fill'),
    };
  }

  it('draws a path with the brush size, erasing through to transparency', () => {
    const ctx = recorder();
    drawStroke(ctx, stroke('mask', 1, true));
    assert.deepEqual(ctx.calls, ['begin', 'move 1,0', 'line 6,5', 'stroke destination-out 10']);
    assert.equal(ctx.globalCompositeOperation, 'source-over', 'left as it was found');
  });

  it('draws a tap as a dot of the brush size', () => {
    const ctx = recorder();
    drawStroke(ctx, { ...stroke('paint', 4), points: [4, 4] });
    assert.deepEqual(ctx.calls, ['begin', 'arc 4,4 r5', 'fill']);
  });
});
