// How often an expensive preview may run: each step earns `share` × its own duration (measured between one
// preview's end and the next one's start, so the preview itself is not counted), and a decode runs only when the
// credit covers its expected cost. Over any stretch of steps the decoder therefore costs at most `share` of the
// step time, whatever the model, size or machine: every few steps for SD 1.5 on a CPU (8–10 % of a step a
// decode), about every 1–10 steps on a GPU (a few ms a decode against 30–300 ms steps; not measured here), and
// never on the tiny test model, whose steps are shorter than one decode.
export class PreviewBudget {
  private credit = 0;
  private lastEnd: number | undefined;

  constructor(
    readonly share: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** At the start of a preview: earns this step's credit and says whether a decode costing `expectedMs` fits. */
  allows(expectedMs: number): boolean {
    const t = this.now();
    // Credit is capped at one decode: a long step (or a pause) must not buy several decodes in a row later.
    if (this.lastEnd !== undefined) this.credit = Math.min(this.credit + this.share * (t - this.lastEnd), expectedMs);
    return this.lastEnd !== undefined && this.credit >= expectedMs;
  }

  /** At the end of a preview, with what the expensive decode cost (0 when it did not run). */
  spent(ms: number): void {
    this.credit -= ms;
    this.lastEnd = this.now();
  }
}

/** The steps (1-based) at which the budget lets a decode run, for steady steps and decodes: the benchmark's cadence. */
export function decodeSteps(share: number, stepMs: number, decodeMs: number, steps: number): number[] {
  let clock = 0;
  const budget = new PreviewBudget(share, () => clock);
  const decoded: number[] = [];
  for (let step = 1; step <= steps; step++) {
    clock += stepMs;
    const run = budget.allows(decodeMs);
    if (run) {
      decoded.push(step);
      clock += decodeMs;
    }
    budget.spent(run ? decodeMs : 0);
  }
  return decoded;
}
