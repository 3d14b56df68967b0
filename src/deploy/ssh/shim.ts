/**
 * Imported before `ssh2`: its pure-JavaScript Poly1305 (an Emscripten module) reads
 * the CommonJS `__dirname` while loading. Inside an ESM bundle (ncc output) that name
 * does not exist and loading ssh2 fails with a ReferenceError; a global of that name
 * (the bundle's directory) fixes it. Harmless outside a bundle, where CommonJS modules
 * have their own `__dirname`.
 */
const g = globalThis as { __dirname?: string }
g.__dirname ??= import.meta.dirname

/** Whether the shim is in place (for tests). */
export const sshShimInstalled = typeof g.__dirname === 'string'
