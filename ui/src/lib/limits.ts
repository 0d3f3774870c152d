// The server's request limits, shared as values: limits.ts has no imports, so nothing else is bundled.
export { LIMITS } from '../../../server/src/http/limits.js';
