// The object layer's entry point: importing it registers the built-in backends.
import './file.js';
import './mem.js';

export * from './interface.js';
export { objectSchemes, openObjectStore, registerObjectStore } from './registry.js';
