/**
 * The deployment repository's domain, pure: its layout (paths.ts), what a merge changed
 * (changes.ts), which spec change wins and what it asks of the engine (spec-changes.ts), and
 * how a module applies (applies.ts). shared/deployments reads the repository and records.
 */
export * from './applies.js';
export * from './changes.js';
export * from './paths.js';
export * from './spec-changes.js';
