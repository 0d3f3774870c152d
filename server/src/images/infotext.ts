// A1111's "parameters" infotext: prompt lines, an optional "Negative prompt:" line, then one line of
// `Key: value` pairs. Values holding `,` `:` or a newline are JSON-quoted, as A1111's writer does.
export interface InfotextFields {
  prompt: string;
  negativePrompt: string;
  steps: number;
  sampler: string;
  cfgScale: number;
  seed: number;
  width: number;
  height: number;
  model: string;
  version: string;
  /** img2img and inpainting only. */
  strength?: number;
}

function quote(value: string): string {
  return /[,:\n]/.test(value) ? JSON.stringify(value) : value;
}

export function formatInfotext(f: InfotextFields): string {
  const params: [string, string | number][] = [
    ['Steps', f.steps],
    ['Sampler', f.sampler],
    ['CFG scale', f.cfgScale],
    ['Seed', f.seed],
    ['Size', `${f.width}x${f.height}`],
    ['Model', f.model],
    ...(f.strength === undefined ? [] : ([['Denoising strength', f.strength]] as [string, number][])),
    ['RNG', 'CPU'],
    ['Version', `Easel ${f.version}`],
  ];
  const line = params.map(([k, v]) => `${k}: ${typeof v === 'number' ? String(v) : quote(v)}`).join(', ');
  const negative = f.negativePrompt ? `\nNegative prompt: ${f.negativePrompt}` : '';
  return `${f.prompt}${negative}\n${line}`;
}
