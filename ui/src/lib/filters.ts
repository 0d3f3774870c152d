// Post-processing filters (upscale, fix faces, NSFW blur, watermark) are another developer's work. The page shows
// their controls only when the server says they exist: a `filters` list in GET /api/health, or GET /api/filters.
// Until then this returns [] and the filter places in the form and the image actions stay hidden.

export interface FilterInfo {
  /** e.g. "upscale", "fix-faces", "nsfw", "watermark". */
  id: string;
  name: string;
}

export async function loadFilters(health: unknown): Promise<FilterInfo[]> {
  const listed = (health as { filters?: unknown } | null)?.filters;
  if (listed !== undefined) return asFilters(listed);
  try {
    const response = await fetch('/api/filters');
    return response.ok ? asFilters(await response.json()) : [];
  } catch {
    return [];
  }
}

// GET /api/filters answers { upscalers: [...], faceRestorers: [...], nsfw: [...], watermark: boolean, … }; read
// tolerantly, since that contract is still being settled.
function asFilters(value: unknown): FilterInfo[] {
  const v = (value ?? {}) as Record<string, unknown>;
  const has = (key: string) => Array.isArray(v[key]) && (v[key] as unknown[]).length > 0;
  const out: FilterInfo[] = [];
  if (has('upscalers')) out.push({ id: 'upscale', name: 'Upscale' });
  if (has('faceRestorers')) out.push({ id: 'fix-faces', name: 'Fix faces' });
  if (has('nsfw')) out.push({ id: 'nsfw', name: 'Blur NSFW images' });
  if (v.watermark === true) out.push({ id: 'watermark', name: 'Invisible watermark' });
  return out;
}
