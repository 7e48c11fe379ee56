/**
 * (a) Accepting a lifecycle message, from the handler's invocation to its transaction's
 * commit, beside one raw transaction with the same reads and writes; and (b) the Firestore
 * reads and writes that cost, counted on the wire.
 *
 * Side A calls the real `engine.handleLifecycleMessage` with the CloudEvent the functions
 * framework would hand the function, and stops the clock when the engine's store reports its
 * first transaction committed (the accepting one); the handler then goes on with the outbox
 * and the first steps, untimed, before the next sample. Side B is one `runTransaction` on the
 * same Firestore client: the same getAll of the ledger entry and the instance, then the same
 * five writes (operation create, instance set, ledger create, audit create, outbox create)
 * of documents copied from what the engine itself wrote. Every sample, of either side, works
 * on an instance and an event id of its own, seeded before the clock starts, so neither side
 * meets contention.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { DocumentData, Firestore } from '@google-cloud/firestore';
import { operationIdFor } from '../shared/domain/lifecycle/operations.js';
import { acceptCommand } from '../shared/engine/accept.js';
import { LIFECYCLE_COMMANDS, decodePubSubEvent, type AnyEnvelope } from '../shared/events/index.js';
import type { FirestoreOperationCounts } from '../shared/gcp/firestore-counting.js';
import { addCounts, countsBetween, emptyCounts, perEvent } from './counts.js';
import { benchmarkResult, type BenchmarkResult, type CountsResult } from './results.js';
import { interleavedOrder } from './stats.js';
import { pushedCloudEvent, type BenchWorld } from './world.js';
import { paths } from '../shared/store/collections.js';
import { deliver } from '../shared/edge.js';
import { lifecycleRoute } from '../shared/routes.js';

/** The five documents the accepting transaction writes, as Firestore holds them. */
interface AcceptDocuments {
  operation: DocumentData;
  instance: DocumentData;
  ledger: DocumentData;
  audit: DocumentData;
  outbox: DocumentData;
}

async function read(firestore: Firestore, path: string): Promise<DocumentData> {
  const data = (await firestore.doc(path).get()).data();
  if (data === undefined) throw new Error(`expected the engine to have written ${path}`);
  return data;
}

/**
 * Accepts one command through the engine's own accepting transaction (and nothing after it,
 * so no later step has changed them yet) and reads back the five documents it wrote.
 */
async function documentsTheEngineWrites(world: BenchWorld): Promise<AcceptDocuments> {
  const instanceId = world.newInstanceId('e');
  await world.seedInstances([instanceId]);
  const envelope = world.upgradeCommand(instanceId);
  const decoded = decodePubSubEvent(pushedCloudEvent(envelope, world.projectId), LIFECYCLE_COMMANDS);
  if (!decoded.ok) throw new Error(`the benchmark's own command does not decode: ${decoded.error.message}`);
  const outcome = await acceptCommand(world.engine.deps, decoded.envelope, decoded.message);
  const fact = outcome.kind === 'accepted' ? outcome.outbox[0] : undefined;
  if (fact === undefined) throw new Error(`expected the template command to be accepted, got ${JSON.stringify(outcome)}`);
  const audits = await world.firestore.collection('audit').where('causeEventId', '==', envelope.eventId).get();
  const audit = audits.docs[0]?.data();
  if (audit === undefined) throw new Error('expected the engine to have written an audit record');
  return {
    operation: await read(world.firestore, paths.operation(operationIdFor(envelope.eventId))),
    instance: await read(world.firestore, paths.instance(instanceId)),
    ledger: await read(world.firestore, paths.ledger(envelope.eventId)),
    audit,
    outbox: await read(world.firestore, paths.outbox(fact.envelope.eventId)),
  };
}

interface RawSample {
  instanceId: string;
  eventId: string;
  auditId: string;
  factId: string;
  docs: AcceptDocuments;
}

/** The template's documents with this sample's ids: same fields, same sizes. */
function rawSample(template: AcceptDocuments, instanceId: string): RawSample {
  const eventId = randomUUID();
  const factId = randomUUID();
  const operationId = operationIdFor(eventId);
  const audit = template.audit;
  const outboxEnvelope = template.outbox.envelope as DocumentData;
  return {
    instanceId,
    eventId,
    factId,
    // Same length as the engine's audit ids: a compact timestamp, a sequence, a random suffix.
    auditId: `${new Date().toISOString().replace(/[-:.]/g, '')}-${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}-${randomBytes(4).toString('hex')}`,
    docs: {
      operation: { ...template.operation, id: operationId, instanceId, causeEventId: eventId },
      instance: {
        ...template.instance,
        id: instanceId,
        slug: instanceId,
        domain: `${instanceId}.example.com`,
        lease: { ...(template.instance.lease as DocumentData), operationId },
        lastOperationId: operationId,
      },
      ledger: { ...template.ledger, operationId },
      audit: { ...audit, instanceId, operationId, causeEventId: eventId },
      outbox: {
        ...template.outbox,
        envelope: { ...outboxEnvelope, eventId: factId, instanceId, payload: { ...(outboxEnvelope.payload as DocumentData), operationId } },
      },
    },
  };
}

/** Side B: one transaction with the accepting transaction's reads and writes, nothing else. */
async function rawTransaction(firestore: Firestore, sample: RawSample): Promise<void> {
  await firestore.runTransaction(async (tx) => {
    const ledger = firestore.doc(paths.ledger(sample.eventId));
    const instance = firestore.doc(paths.instance(sample.instanceId));
    const [seen, current] = await tx.getAll(ledger, instance);
    // The same decision inputs the engine looks at, so the raw side cannot skip its reads.
    if (seen === undefined || current === undefined || seen.exists || !current.exists) throw new Error(`raw sample ${sample.eventId}: unexpected state`);
    tx.create(firestore.doc(paths.operation(operationIdFor(sample.eventId))), sample.docs.operation);
    tx.set(instance, sample.docs.instance);
    tx.create(ledger, sample.docs.ledger);
    tx.create(firestore.doc(paths.audit(sample.auditId)), sample.docs.audit);
    tx.create(firestore.doc(paths.outbox(sample.factId)), sample.docs.outbox);
  });
}

export interface AcceptBenchOptions {
  pairs: number;
  warmup: number;
}

/**
 * A diagnostic beside (a): the handler's path minus what it does before the accepting
 * transaction other than decoding (decode, then acceptCommand, as the handler calls it), against
 * the same raw transaction. The difference from (a) is the cost of those extra steps.
 */
export async function benchAcceptPathOnly(world: BenchWorld, options: AcceptBenchOptions): Promise<BenchmarkResult> {
  const template = await documentsTheEngineWrites(world);
  const total = options.warmup + options.pairs;
  const engineIds = Array.from({ length: total }, () => world.newInstanceId('e'));
  const rawIds = Array.from({ length: total }, () => world.newInstanceId('r'));
  await world.seedInstances([...engineIds, ...rawIds]);
  const events = engineIds.map((id) => pushedCloudEvent(world.upgradeCommand(id), world.projectId));
  const raws = rawIds.map((id) => rawSample(template, id));
  const timed = { a: [] as number[], b: [] as number[] };
  const next = { a: 0, b: 0 };
  for (const side of interleavedOrder(total)) {
    const index = next[side];
    next[side] += 1;
    const started = performance.now();
    if (side === 'a') {
      const decoded = decodePubSubEvent(events[index], LIFECYCLE_COMMANDS);
      if (!decoded.ok) throw new Error(`the benchmark's own command does not decode: ${decoded.error.message}`);
      const outcome = await acceptCommand(world.engine.deps, decoded.envelope, decoded.message);
      if (outcome.kind !== 'accepted') throw new Error(`expected every benchmark command to be accepted, got ${JSON.stringify(outcome)}`);
    } else {
      const sample = raws[index];
      if (sample === undefined) throw new Error('ran out of prepared raw samples');
      await rawTransaction(world.firestore, sample);
    }
    if (index >= options.warmup) timed[side].push(performance.now() - started);
  }
  return benchmarkResult({
    name: "(a') decode + acceptCommand only",
    measures: 'diagnostic: decode + the accepting transaction, without the handler\'s other steps before it, vs the same raw transaction',
    warmup: options.warmup,
    target: 1.3,
    a: { label: 'decode + acceptCommand to commit', samples: timed.a },
    b: { label: 'raw runTransaction, same reads/writes', samples: timed.b },
  });
}

/** Runs (a) and (b); returns the comparison and the counts. */
export async function benchAccept(world: BenchWorld, options: AcceptBenchOptions): Promise<{ benchmark: BenchmarkResult; counts: CountsResult }> {
  const template = await documentsTheEngineWrites(world);
  const total = options.warmup + options.pairs;

  // Everything a sample needs exists before any clock starts.
  const engineIds = Array.from({ length: total }, () => world.newInstanceId('e'));
  const rawIds = Array.from({ length: total }, () => world.newInstanceId('r'));
  await world.seedInstances([...engineIds, ...rawIds]);
  const events = engineIds.map((id) => {
    const envelope: AnyEnvelope = world.upgradeCommand(id);
    return pushedCloudEvent(envelope, world.projectId);
  });
  const raws = rawIds.map((id) => rawSample(template, id));

  const timed = { a: [] as number[], b: [] as number[] };
  let acceptance: FirestoreOperationCounts = emptyCounts();
  let handler: FirestoreOperationCounts = emptyCounts();
  let raw: FirestoreOperationCounts = emptyCounts();
  const next = { a: 0, b: 0 };

  for (const side of interleavedOrder(total)) {
    const index = next[side];
    next[side] += 1;
    const counted = index >= options.warmup;
    if (side === 'a') {
      const event = events[index];
      if (event === undefined) throw new Error('ran out of prepared events');
      let committedAt: number | undefined;
      let atCommit: FirestoreOperationCounts | undefined;
      world.onCommit(() => {
        if (committedAt !== undefined) return;
        committedAt = performance.now();
        atCommit = world.counter.snapshot();
      });
      const before = world.counter.snapshot();
      const started = performance.now();
      const outcome = await deliver(world.engine.deps, lifecycleRoute(world.engine), event);
      const after = world.counter.snapshot();
      world.onCommit(undefined);
      if (outcome.kind !== 'accepted') throw new Error(`expected every benchmark command to be accepted, got ${JSON.stringify(outcome)}`);
      if (committedAt === undefined || atCommit === undefined) throw new Error('the accepting transaction did not report its commit');
      if (counted) {
        timed.a.push(committedAt - started);
        acceptance = addCounts(acceptance, countsBetween(before, atCommit));
        handler = addCounts(handler, countsBetween(before, after));
      }
    } else {
      const sample = raws[index];
      if (sample === undefined) throw new Error('ran out of prepared raw samples');
      const before = world.counter.snapshot();
      const started = performance.now();
      await rawTransaction(world.firestore, sample);
      const finished = performance.now();
      if (counted) {
        timed.b.push(finished - started);
        raw = addCounts(raw, countsBetween(before, world.counter.snapshot()));
      }
    }
  }

  const benchmark = benchmarkResult({
    name: '(a) accept',
    measures: 'lifecycle message: handler invocation -> accepting transaction committed, vs one raw transaction (getAll 2 docs, 5 writes)',
    warmup: options.warmup,
    target: 1.3,
    a: { label: 'engine handleLifecycleMessage to commit', samples: timed.a },
    b: { label: 'raw runTransaction, same reads/writes', samples: timed.b },
  });
  return {
    benchmark,
    counts: {
      events: timed.a.length,
      acceptance: perEvent(acceptance, timed.a.length),
      handler: perEvent(handler, timed.a.length),
      rawTransaction: perEvent(raw, timed.b.length),
      note:
        'Per accepted event (an upgrade of an idle instance, no contention). "accepting transaction" counts from the handler\'s ' +
        'invocation to the commit, so any read the handler makes before the transaction is included. "whole handler" adds the outbox delete after publishing ' +
        'and the first steps (claim, start both backups on the simulated fleet, record). Reads count documents returned by lookups ' +
        'and queries; writes count documents in successful commits; a retried transaction would show as more commits and failed commits.',
    },
  };
}
