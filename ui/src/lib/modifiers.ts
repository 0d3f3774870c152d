// Style modifiers: a built-in library of short phrases by category, and how the chosen ones join a prompt.
// A chosen modifier has a weight (written in A1111's `(text:1.2)` emphasis, which the server understands) and can
// be switched off without losing its place. Pure data and functions; the store is modifiers.svelte.ts.

export interface ModifierCategory {
  name: string;
  items: readonly string[];
}

export interface ChosenModifier {
  text: string;
  weight: number;
  enabled: boolean;
}

export const MIN_WEIGHT = 0.1;
export const MAX_WEIGHT = 2;
export const WEIGHT_STEP = 0.1;

export const MODIFIER_LIBRARY: readonly ModifierCategory[] = [
  {
    name: 'Medium',
    items: ['oil painting', 'watercolor', 'gouache', 'charcoal sketch', 'ink drawing', 'pastel drawing', 'linocut print', 'woodblock print', 'pencil sketch', 'digital painting', 'vector illustration', 'papercraft', 'stained glass', 'mosaic', 'claymation', 'embroidery'],
  },
  {
    name: 'Style',
    items: ['art nouveau', 'art deco', 'impressionism', 'expressionism', 'cubism', 'surrealism', 'pop art', 'minimalism', 'ukiyo-e', 'bauhaus', 'baroque', 'cyberpunk', 'steampunk', 'solarpunk', 'vaporwave', 'low poly', 'pixel art', 'isometric', 'comic book', 'children’s book illustration'],
  },
  {
    name: 'Lighting',
    items: ['golden hour', 'blue hour', 'soft light', 'rim light', 'volumetric light', 'studio lighting', 'candlelight', 'neon lights', 'overcast', 'moonlight', 'backlit', 'dramatic shadows', 'bioluminescence'],
  },
  {
    name: 'Camera',
    items: ['wide angle', 'telephoto', 'macro', 'fisheye', 'aerial view', 'low angle', 'close-up portrait', 'full body shot', 'tilt-shift', 'long exposure', 'shallow depth of field', 'bokeh', '35mm film', 'polaroid', 'motion blur'],
  },
  {
    name: 'Colour',
    items: ['monochrome', 'sepia', 'pastel colors', 'vibrant colors', 'muted colors', 'earth tones', 'complementary colors', 'black and white', 'duotone', 'iridescent', 'high contrast', 'warm palette', 'cool palette'],
  },
  {
    name: 'Mood',
    items: ['serene', 'melancholic', 'whimsical', 'eerie', 'cozy', 'epic', 'dreamy', 'mysterious', 'joyful', 'ominous', 'nostalgic', 'tranquil'],
  },
  {
    name: 'Setting',
    items: ['misty forest', 'desert dunes', 'snowy mountains', 'underwater', 'outer space', 'city street at night', 'cottage garden', 'ancient ruins', 'floating islands', 'rainy window', 'autumn park', 'seaside cliffs'],
  },
  {
    name: 'Detail',
    items: ['highly detailed', 'intricate', 'sharp focus', 'smooth gradients', 'fine texture', 'clean lines', 'loose brushstrokes', 'rough sketch', 'symmetrical', 'dynamic composition', 'rule of thirds', 'centered composition'],
  },
  {
    name: 'Render',
    items: ['3d render', 'octane render', 'ray tracing', 'subsurface scattering', 'ambient occlusion', 'physically based rendering', 'cel shading', 'matte painting', 'concept art', 'photorealistic', 'hyperrealistic', 'film grain'],
  },
];

export function clampWeight(weight: number): number {
  if (!Number.isFinite(weight)) return 1;
  return Math.round(Math.min(MAX_WEIGHT, Math.max(MIN_WEIGHT, weight)) * 10) / 10;
}

/** The modifier as prompt text: bare at weight 1, else A1111 emphasis. Brackets in the text are escaped. */
export function modifierText(modifier: ChosenModifier): string {
  if (clampWeight(modifier.weight) === 1) return modifier.text;
  const escaped = modifier.text.replace(/([()[\]\\])/g, '\\$1');
  return `(${escaped}:${clampWeight(modifier.weight)})`;
}

/** Appends the enabled modifiers to a prompt as Easy Diffusion does: `prompt, mod1, mod2`. */
export function applyModifiers(prompt: string, modifiers: readonly ChosenModifier[]): string {
  const extras = modifiers.filter((m) => m.enabled && m.text.trim()).map(modifierText);
  return [prompt.trim(), ...extras].filter(Boolean).join(', ');
}

/** Moves one item in a list to another place; out-of-range indexes change nothing. */
export function moveItem<T>(items: readonly T[], from: number, to: number): T[] {
  const out = [...items];
  if (from < 0 || from >= out.length || to < 0 || to >= out.length || from === to) return out;
  const [item] = out.splice(from, 1) as [T];
  out.splice(to, 0, item);
  return out;
}

/** Chosen modifiers from stored JSON, keeping only well-formed entries. */
export function parseChosen(value: unknown): ChosenModifier[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return [];
    const { text, weight, enabled } = entry as Partial<ChosenModifier>;
    if (typeof text !== 'string' || !text.trim()) return [];
    return [{ text: text.trim(), weight: clampWeight(typeof weight === 'number' ? weight : 1), enabled: enabled !== false }];
  });
}
