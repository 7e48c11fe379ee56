/** The actor of every command and record a rollout makes. */
export const ROLLOUT_ACTOR = 'system:rollout';
