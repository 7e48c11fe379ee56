/**
 * A simulator's state as plain data, so the local stack can keep it where a restart finds it
 * (cli/dev/fleet-state.ts): the simulated world outlives the process that simulates it, as the
 * real services outlive a crashed control plane. Each simulator names the fields that make up
 * its world (not its options, clock or call counts); their values are what the structured clone
 * algorithm copies (maps, sets, arrays, buffers, plain objects), never functions.
 */

/** One simulator's fields, by name. */
export type SimState = Readonly<Record<string, unknown>>;

/** A simulator whose world can be taken out and put back. */
export interface Persistable {
  exportState(): SimState;
  importState(state: SimState): void;
}

/** Copies the named fields of `owner` (deeply: a later change of the simulator does not reach the copy). */
export function captureFields(owner: object, fields: readonly string[]): SimState {
  const source = owner as Record<string, unknown>;
  return structuredClone(Object.fromEntries(fields.map((field) => [field, source[field]])));
}

/**
 * Puts captured fields back into `owner`: a map, set or array is emptied and refilled in place
 * (the simulators hold them as readonly fields), anything else is assigned. A field the state
 * lacks is left as it is; a field the simulator does not name is refused.
 */
export function restoreFields(owner: object, fields: readonly string[], state: SimState): void {
  const target = owner as Record<string, unknown>;
  const unknown = Object.keys(state).filter((key) => !fields.includes(key));
  if (unknown.length > 0) throw new Error(`simulator state has fields this simulator does not keep: ${unknown.join(', ')}`);
  const copy = structuredClone(state) as Record<string, unknown>;
  for (const field of fields) {
    if (!(field in copy)) continue;
    const value = copy[field];
    const current = target[field];
    if (current instanceof Map && value instanceof Map) {
      current.clear();
      for (const [key, entry] of value) current.set(key, entry);
    } else if (current instanceof Set && value instanceof Set) {
      current.clear();
      for (const entry of value) current.add(entry);
    } else if (Array.isArray(current) && Array.isArray(value)) {
      current.length = 0;
      current.push(...(value as unknown[]));
    } else {
      target[field] = value;
    }
  }
}

/** What a simulator's FaultInjector keeps of its rules (FaultInjector.exportState). */
interface FaultState {
  exportState(): unknown;
  importState(state: never): void;
}

/** The named fields and the fault rules not used up: a simulator's exportState. */
export function exportWithFaults(owner: object, fields: readonly string[], faults: FaultState): SimState {
  return { ...captureFields(owner, fields), faults: faults.exportState() };
}

/** Puts fields and fault rules taken by exportWithFaults back: a simulator's importState. */
export function importWithFaults(owner: object, fields: readonly string[], faults: FaultState, state: SimState): void {
  const { faults: rules, ...rest } = state;
  restoreFields(owner, fields, rest);
  if (rules !== undefined) faults.importState(rules as never);
}
