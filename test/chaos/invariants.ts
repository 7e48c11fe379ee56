/**
 * What must hold after every step of every schedule, checked against the store as it is and
 * the simulators' own records of what landed.
 */
import type { OperationRecord } from '../../shared/domain/lifecycle/operations.js';
import type { InstanceRecord } from '../../shared/events/index.js';
import type { StateStore } from '../../shared/ports.js';
import type { World } from './world.js';

const ACTIVE = new Set(['accepted', 'running', 'stuck']);

async function operationsOf(store: StateStore, instanceIds: readonly string[]): Promise<OperationRecord[]> {
  const docs = await store.query<OperationRecord>({ collection: 'operations', where: [{ field: 'instanceId', op: 'in', value: [...instanceIds] }] });
  return docs.map((d) => d.data);
}

/** Violations right now: two operations on one instance, side effects outside their lease, a step started twice. */
export async function checkStep(world: World): Promise<string[]> {
  const violations: string[] = [];
  const ids = world.instances.map((i) => i.id);
  const [operations, instances] = await Promise.all([
    operationsOf(world.store, ids),
    Promise.all(ids.map((id) => world.store.get<InstanceRecord>(`instances/${id}`))),
  ]);
  const byId = new Map(operations.map((op) => [op.id, op]));
  for (const [index, id] of ids.entries()) {
    const holder = instances[index]?.lease?.operationId ?? null;
    const active = operations.filter((op) => op.instanceId === id && ACTIVE.has(op.status));
    if (active.length > 1) violations.push(`two operations hold ${id} at once: ${active.map((op) => `${op.id} (${op.status})`).join(', ')}`);
    for (const op of active) if (op.id !== holder) violations.push(`${op.id} is ${op.status} on ${id} but the lease is held by ${holder ?? 'nobody'}`);
    if (holder !== null && !active.some((op) => op.id === holder)) violations.push(`the lease of ${id} names ${holder}, which is ${byId.get(holder)?.status ?? 'missing'}`);
  }
  const landings = new Map<string, number>();
  for (const effect of world.effects) {
    landings.set(effect.key, (landings.get(effect.key) ?? 0) + 1);
    if (effect.operationId === null || effect.holderAtLanding !== effect.operationId) {
      violations.push(`${effect.kind} ${effect.key} landed on ${effect.instanceId} at ${effect.at} while its lease was held by ${effect.holderAtLanding ?? 'nobody'}, not by the operation that started it (${effect.operationId ?? 'unknown'})`);
      continue;
    }
    if (!(await effect.running())) continue;
    const owner = byId.get(effect.operationId);
    // An operator may abandon an operation whose work still runs: recorded, and allowed.
    if (owner?.status === 'abandoned') continue;
    const index = ids.indexOf(effect.instanceId);
    const holder = instances[index]?.lease?.operationId ?? null;
    if (holder !== effect.operationId) {
      violations.push(`${effect.kind} ${effect.key} still runs on ${effect.instanceId}, but ${effect.operationId} (${owner?.status ?? 'missing'}) no longer holds its lease (held by ${holder ?? 'nobody'})`);
    }
  }
  for (const [key, count] of landings) if (count > 1) violations.push(`the side effect ${key} was started ${count} times`);
  return violations;
}

/** Violations once the schedule is over and the system has quiesced. */
export async function checkEnd(world: World): Promise<string[]> {
  const violations: string[] = [];
  const ids = world.instances.map((i) => i.id);
  const operations = await operationsOf(world.store, ids);
  for (const op of operations) {
    if (op.status === 'accepted' || op.status === 'running') violations.push(`${op.id} (${op.type}) never ended: ${op.status}, steps ${op.steps.map((s) => `${s.name}:${s.status}`).join(' ')}`);
    if (op.status === 'stuck') {
      const holder = await world.leaseHolder(op.instanceId);
      if (holder !== op.id) violations.push(`${op.id} is stuck without holding the lease of ${op.instanceId}`);
    }
  }
  // Degraded only by a gate after a rollout that ran: the upgrade it runs is on record, to roll back.
  for (const id of ids) {
    const instance = await world.store.get<InstanceRecord>(`instances/${id}`);
    if (instance?.status !== 'degraded') continue;
    const last = instance.lastUpgrade === undefined ? undefined : operations.find((op) => op.id === instance.lastUpgrade?.operationId);
    if (last === undefined || last.failure?.step !== 'health-after' || instance.version !== instance.lastUpgrade?.toVersion) {
      violations.push(`${id} is degraded, but not by a failed gate after its last upgrade (${instance.lastUpgrade?.operationId ?? 'none recorded'}: ${last?.status ?? 'missing'} at ${last?.failure?.step ?? '-'})`);
    }
  }
  // Every delivered message has exactly one ledger entry: under its own key, and nothing else.
  // (A dead-lettered message is the dead-letter alert's to report, not the ledger's.)
  // A notification that records nothing (not ours, or a build that has not ended) has no key.
  const keys = new Set(world.messages.flatMap((m) => (m.deliveries > 0 && !m.deadLettered && m.ledgerKey !== null ? [m.ledgerKey] : [])));
  const delivered = new Set(world.messages.filter((m) => m.deliveries > 0).map((m) => m.ledgerKey));
  const ledger = new Set(await world.store.queryIds({ collection: 'processedEvents' }));
  for (const key of keys) if (!ledger.has(key)) violations.push(`delivered message ${key} has no ledger entry`);
  for (const key of ledger) if (!delivered.has(key)) violations.push(`the ledger holds ${key}, which names no delivered message`);
  return violations;
}
