/**
 * Operations as stored state machines: pure functions over plain data, no I/O. The engine
 * (shared/engine) reads documents, calls these, and writes what they return.
 *
 * Split by concern: model.ts (types, timings, ids), step-transitions.ts (a step's life), and
 * operation-end.ts (verdict, ending, stuck and release); this module re-exports them all.
 */
export * from './model.js';
export * from './step-transitions.js';
export * from './operation-end.js';
