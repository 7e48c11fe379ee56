/**
 * (d) Scheduled compliance at fleet scale, in a project of its own with 10,000 instances:
 *
 * - fan-out: the time from the scheduled message handed to the complianceSchedule handler until
 *   every per-instance message is published (the run created, ids paged, each plan page written
 *   and awaited, the plan read back and verified, one message per instance batched on mi-checks,
 *   each page marked published), beside the floor: a raw id-only paged
 *   query of the same 10,000 ids (same filter, same page size) plus a raw batched publish of
 *   10,000 messages of the same size with the bus's batching settings. Target ratio <= 1.2.
 * - Firestore reads and writes per instance check, on the wire (the counting client), over
 *   checks of healthy instances (no remediation).
 *
 * Fan-out and floor samples alternate, so a drift of the shared machine hits both sides.
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import { createCompliance, type Compliance } from '../shared/compliance/index.js';
import { liveInstanceIdsPage } from '../shared/compliance/fanout.js';
import { makeEnvelope } from '../shared/events/index.js';
import type { FirestoreOperationCounts } from '../shared/gcp/firestore-counting.js';
import { createFirestoreStore } from '../shared/gcp/firestore-store.js';
import { createPubSubBus } from '../shared/gcp/pubsub-bus.js';
import { systemClock } from '../shared/ports.js';
import { TOPICS } from '../shared/topology.js';
import { countsBetween, perEvent } from './counts.js';
import { round, summarize } from './stats.js';
import { createBenchWorld } from './world.js';
import { deliver } from '../shared/edge.js';
import { complianceCheckRoute, complianceScheduleRoute } from '../shared/routes.js';

export interface ComplianceBenchResult {
  instances: number;
  pageSize: number;
  samples: number;
  fanOutMs: { p50: number; min: number; max: number; all: number[] };
  floorMs: { p50: number; min: number; max: number; all: number[]; queryP50: number; publishP50: number };
  ratio: { p50: number };
  target: number;
  pass: boolean;
  perCheck: { checks: number; counts: FirestoreOperationCounts };
  note: string;
}

const PAGE_SIZE = 500;

function pubSubEvent(data: unknown, attributes: Record<string, string>, projectId: string, topic: string) {
  const messageId = String(Date.now()) + String(Math.floor(Math.random() * 1000));
  return {
    specversion: '1.0',
    id: messageId,
    source: `//pubsub.googleapis.com/projects/${projectId}/topics/${topic}`,
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    data: { subscription: `projects/${projectId}/subscriptions/${topic}--x`, message: { data: Buffer.from(JSON.stringify(data)).toString('base64'), attributes, messageId, publishTime: new Date().toISOString() } },
  };
}

/** Runs the compliance benchmark in project `${projectId}-c`. */
export async function benchCompliance(baseProjectId: string, options: { instances?: number; samples?: number; checks?: number } = {}): Promise<ComplianceBenchResult> {
  const instances = options.instances ?? 10_000;
  const samples = options.samples ?? 5;
  const checks = options.checks ?? 200;
  const world = await createBenchWorld(`${baseProjectId}-c`);
  const pubsub = new PubSub({ projectId: world.projectId });
  // The compliance bus and the raw floor publish with the same client settings (the bus's batching).
  const bus = createPubSubBus({ pubsub, deadlineMs: 60_000 });
  const rawTopic = pubsub.topic(TOPICS.checks, { messageOrdering: true, batching: { maxMilliseconds: 5, maxMessages: 100 } });
  const store = createFirestoreStore({ firestore: world.firestore, deadlineMs: 60_000 });
  try {
    // Untimed: 10,000 instance records, each with its simulated Cloud SQL instance and backup plan.
    const ids = Array.from({ length: instances }, (_, i) => `bench-c-${String(i).padStart(6, '0')}`);
    for (let start = 0; start < ids.length; start += 500) {
      const batch = world.firestore.batch();
      for (const id of ids.slice(start, start + 500)) batch.set(world.firestore.doc(`instances/${id}`), world.instanceRecord(id));
      await batch.commit();
    }
    const compliance: Compliance = createCompliance({
      store,
      bus,
      cloudSql: world.fleet.cloudSql,
      gkeBackup: world.fleet.gkeBackup,
      scheduler: world.fleet.scheduler,
      clock: systemClock,
      schedulerParent: `projects/${world.projectId}/locations/us-central1`,
      pageSize: PAGE_SIZE,
      remediate: false,
    });

    const fanOut = async (): Promise<number> => {
      const envelope = makeEnvelope({ type: 'compliance.run-requested', payload: { schedule: 'verify-backups' }, actor: 'bench', reason: 'bench' });
      const event = pubSubEvent(envelope, { schedule: 'verify-backups' }, world.projectId, TOPICS.compliance);
      const started = performance.now();
      const outcome = await deliver(compliance.deps, complianceScheduleRoute(compliance), event);
      const ms = performance.now() - started;
      if (outcome.kind !== 'fanned-out' || outcome.result.planned !== instances) throw new Error(`fan-out planned ${JSON.stringify(outcome)}`);
      return ms;
    };
    // A message of the same size as the fan-out's.
    const sample = JSON.stringify(
      makeEnvelope({ type: 'compliance.check', instanceId: 'bench-c-000000', payload: { runId: 'verify-backups-manual-000000000000', target: 'instance', asOf: new Date().toISOString() }, actor: 'system:verify-backups', reason: 'compliance run verify-backups-manual-000000000000' }),
    );
    const floor = async (): Promise<{ query: number; publish: number }> => {
      const started = performance.now();
      let after: string | undefined;
      let count = 0;
      for (;;) {
        const page = await store.queryIds(liveInstanceIdsPage(PAGE_SIZE, after));
        count += page.length;
        after = page.at(-1);
        if (page.length < PAGE_SIZE || after === undefined) break;
      }
      const queried = performance.now();
      if (count !== instances) throw new Error(`the raw query found ${count} instances`);
      await Promise.all(
        Array.from({ length: instances }, () => rawTopic.publishMessage({ data: Buffer.from(sample), attributes: { eventType: 'compliance.check', eventId: randomUUID() } })),
      );
      const done = performance.now();
      return { query: queried - started, publish: done - queried };
    };

    // One warm-up of each, then alternating samples.
    await fanOut();
    await floor();
    const fan: number[] = [];
    const raw: Array<{ query: number; publish: number }> = [];
    for (let i = 0; i < samples; i += 1) {
      if (i % 2 === 0) {
        fan.push(await fanOut());
        raw.push(await floor());
      } else {
        raw.push(await floor());
        fan.push(await fanOut());
      }
    }

    // Firestore operations per instance check: healthy instances, one check each.
    const runId = 'verify-backups-manual-benchcounts0';
    const asOf = new Date().toISOString();
    const before = world.counter.snapshot();
    for (const id of ids.slice(0, checks)) {
      const envelope = makeEnvelope({ type: 'compliance.check', instanceId: id, payload: { runId, target: 'instance', asOf }, actor: 'bench', reason: 'bench' });
      const outcome = await deliver(compliance.deps, complianceCheckRoute(compliance), pubSubEvent(envelope, {}, world.projectId, TOPICS.checks));
      if (outcome.kind !== 'written') throw new Error(`check of ${id}: ${outcome.kind}`);
    }
    const perCheck = perEvent(countsBetween(before, world.counter.snapshot()), checks);

    const f = summarize(fan);
    const totals = raw.map((r) => r.query + r.publish);
    const b = summarize(totals);
    const ratio = round(f.p50 / b.p50);
    return {
      instances,
      pageSize: PAGE_SIZE,
      samples,
      fanOutMs: { p50: round(f.p50), min: round(f.min), max: round(f.max), all: fan.map(round) },
      floorMs: { p50: round(b.p50), min: round(b.min), max: round(b.max), all: totals.map(round), queryP50: round(summarize(raw.map((r) => r.query)).p50), publishP50: round(summarize(raw.map((r) => r.publish)).p50) },
      ratio: { p50: ratio },
      target: 1.2,
      pass: ratio <= 1.2,
      perCheck: { checks, counts: perCheck },
      note: 'fan-out: scheduled message handed to the handler until every per-instance message is published (run created, plan pages written, read back and verified before any publish, pages marked); floor: raw id-only paged query + raw batched publish of the same number of messages, same sizes and batching. Per check: one read of the instance, one write of the finding.',
    };
  } finally {
    await bus.close().catch(() => undefined);
    await world.close().catch(() => undefined);
  }
}

/** Lines for the summary printed after the run. */
export function formatCompliance(r: ComplianceBenchResult): string[] {
  return [
    `(e) compliance fan-out of ${r.instances} instances: p50 ${r.fanOutMs.p50} ms vs floor ${r.floorMs.p50} ms (query ${r.floorMs.queryP50} + publish ${r.floorMs.publishP50}); ratio ${r.ratio.p50} (target <= ${r.target}) ${r.pass ? 'PASS' : 'FAIL'}`,
    `    Firestore per instance check: ${r.perCheck.counts.reads} reads, ${r.perCheck.counts.writes} writes (over ${r.perCheck.checks} checks)`,
  ];
}
