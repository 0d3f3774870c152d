// Svelte 5 compiles the TypeScript in components itself, so the defaults need no preprocessors.
export default {};
