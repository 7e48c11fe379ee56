export * from './types.js';
export * from './calendar.js';
export * from './waves.js';
export * from './planner.js';
export * from './control.js';
