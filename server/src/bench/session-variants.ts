// Named onnxruntime session-option sets, so a benchmark can compare tunings by name (`--variants default,no-arena`).
import type { SessionOptions } from '../pipeline/onnx/onnx-session.js';

export const SESSION_VARIANTS: Record<string, SessionOptions> = {
  default: {},
  'no-arena': { memArena: false },
  'no-mempattern': { memPattern: false },
  'no-arena-no-mempattern': { memArena: false, memPattern: false },
  'threads-1': { threads: 1 },
  'opt-basic': { optimizationLevel: 'basic' },
  'opt-extended': { optimizationLevel: 'extended' },
};

export function sessionVariant(name: string): SessionOptions {
  const options = SESSION_VARIANTS[name];
  if (!options) throw new Error(`unknown session variant ${name} (${Object.keys(SESSION_VARIANTS).join(', ')})`);
  return options;
}
