// Small helpers the benchmarks share: statistics, number formatting, markdown tables, and writing one
// benchmark's section of docs/BENCHMARKS.md between its markers, so each part can be rerun alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile (p in 0–100). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const fmt = {
  ms: (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`),
  s: (ms: number): string => `${(ms / 1000).toFixed(2)} s`,
  gib: (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`,
  ratio: (x: number): string => x.toFixed(3),
  pct: (x: number): string => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)} %`,
};

export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * Replaces the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in the doc (appending the block
 * when the markers are absent), leaving everything written by hand around it alone.
 */
export function writeSection(docPath: string, name: string, body: string): void {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Benchmarks\n';
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  const next = from >= 0 && to > from ? doc.slice(0, from) + block + doc.slice(to + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(docPath, next);
}

/** Peak and current resident memory of this process (Linux /proc; process.memoryUsage elsewhere). */
export function memoryNow(): { rss: number; peak: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = (key: string) => Number(status.match(new RegExp(`^${key}:\\s*(\\d+) kB`, 'm'))?.[1] ?? 0) * 1024;
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  } catch {
    const rss = process.memoryUsage().rss;
    return { rss, peak: rss };
  }
}
