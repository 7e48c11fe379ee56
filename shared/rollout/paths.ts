/** Firestore paths of rollouts, their per-instance progress, and the fleet's calendar. */
export const rolloutPaths = {
  rollout: (id: string) => `rollouts/${id}`,
  progressCollection: (id: string) => `rollouts/${id}/instances`,
  progress: (id: string, instanceId: string) => `rollouts/${id}/instances/${instanceId}`,
  /** Fleet-wide change freezes: `{ freezes: [{ from, to, reason }] }`. */
  calendar: 'settings/calendar',
} as const;

export const ROLLOUTS_COLLECTION = 'rollouts';

/** The actor of every command and record a rollout makes. */
export const ROLLOUT_ACTOR = 'system:rollout';
