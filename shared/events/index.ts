export * from './instance.js';
export * from './commands.js';
export * from './facts.js';
export * from './executor.js';
export * from './envelope.js';
export * from './decode.js';
