import { describe, expect, it } from 'vitest';
import { CronExpressionParser } from 'cron-parser';
import {
  DEAD_LETTER_TOPICS,
  FUNCTIONS,
  INDEXED_QUERIES,
  SCHEDULES,
  SUBSCRIPTIONS,
  TOPICS,
  TTL_COLLECTIONS,
  FLEET_SIZE,
  allTopics,
} from '../../shared/topology.js';
import { DEFAULT_TIMINGS } from '../../shared/domain/lifecycle/operations.js';
import { EVIDENCE_RETENTION_DAYS } from '../../shared/domain/compliance/anchor.js';
import { RECORD_RETENTION_DAYS, recordExpiry } from '../../shared/store/records.js';
import { COLLECTIONS, SUBCOLLECTIONS } from '../../shared/store/collections.js';

const topicNames: readonly string[] = Object.values(TOPICS);

describe('topology rules', () => {
  it('every subscription has a dead-letter topic that is not its own topic and exists', () => {
    for (const subscription of SUBSCRIPTIONS) {
      expect(subscription.deadLetter.topic, subscription.name).not.toBe(subscription.topic);
      expect(allTopics(), subscription.name).toContain(subscription.deadLetter.topic);
      // Pub/Sub accepts 5..100 delivery attempts.
      expect(subscription.deadLetter.maxDeliveryAttempts).toBeGreaterThanOrEqual(5);
      expect(subscription.deadLetter.maxDeliveryAttempts).toBeLessThanOrEqual(100);
    }
  });

  it('a step claim outlasts every function\'s timeout, so a live function never acts under a claim another may take over', () => {
    // The engine uses a claim only while a quarter of it (at most 30 s) is left.
    const usable = DEFAULT_TIMINGS.claimMs - Math.min(30_000, DEFAULT_TIMINGS.claimMs / 4);
    for (const fn of FUNCTIONS) expect(fn.timeoutSeconds * 1000, fn.name).toBeLessThan(usable);
  });

  it('no push subscription can be starved into dead letters by its own fan-out at 10,000 instances', () => {
    // A push the function cannot take (no instance free) is answered 429 and counts as a
    // delivery attempt. Rule: the largest burst drains at full capacity before any message can
    // have used half its attempts, i.e. within the sum of the first half of its retry backoffs
    // (10, 20, 40, 80, 160 s: 310 s for min 10 s, max 600 s, 10 attempts).
    for (const subscription of SUBSCRIPTIONS) {
      const fn = FUNCTIONS.find((f) => f.name === subscription.function);
      if (!fn) throw new Error(`${subscription.name} feeds no function`);
      const { maxInstances, concurrency, secondsPerDelivery, burst } = fn.capacity;
      const { minimumBackoffSeconds: min, maximumBackoffSeconds: max } = subscription.retryPolicy;
      const halfTheAttempts = Math.floor(subscription.deadLetter.maxDeliveryAttempts / 2);
      const retryWindow = Array.from({ length: halfTheAttempts }, (_, i) => Math.min(max, min * 2 ** i)).reduce((a, b) => a + b, 0);
      const drainSeconds = (burst.messages * secondsPerDelivery) / (maxInstances * concurrency);
      expect(drainSeconds, `${fn.name}: ${burst.messages} messages (${burst.why}) × ${secondsPerDelivery} s / (${maxInstances} × ${concurrency}) = ${drainSeconds.toFixed(1)} s, retry window ${retryWindow} s`).toBeLessThanOrEqual(retryWindow);
    }
  });

  it('the compliance fan-out stays within the 10,000 instances it is sized for, and within Firestore\'s ramp for a new collection', () => {
    const check = FUNCTIONS.find((f) => f.name === 'complianceCheck');
    expect(check?.capacity.burst.messages).toBeGreaterThanOrEqual(FLEET_SIZE);
    // One finding write per check, each a new document of the run's findings collection:
    // Firestore takes 500 writes/s to a new collection before ramping up (its 500/50/5 rule).
    const writesPerSecond = ((check?.capacity.maxInstances ?? 0) * (check?.capacity.concurrency ?? 0)) / (check?.capacity.secondsPerDelivery ?? 1);
    expect(writesPerSecond).toBeLessThanOrEqual(500);
  });

  it('a function serving more than one request at a time has at least one CPU, and enough memory for them', () => {
    for (const fn of FUNCTIONS) {
      if (fn.capacity.concurrency > 1) {
        expect(fn.capacity.cpu, fn.name).toBeGreaterThanOrEqual(1);
        expect(fn.memoryMb, fn.name).toBeGreaterThanOrEqual(512);
      }
    }
  });

  it('every fan-out consumer (a topic fed by a fan-out of the fleet) serves more than one request at a time', () => {
    for (const fn of FUNCTIONS) if (fn.capacity.burst.messages >= FLEET_SIZE) expect(fn.capacity.concurrency, fn.name).toBeGreaterThan(1);
  });

  it('every subscription has a retry policy within what Pub/Sub accepts', () => {
    for (const { retryPolicy, name, ackDeadlineSeconds } of SUBSCRIPTIONS) {
      expect(retryPolicy.minimumBackoffSeconds, name).toBeGreaterThanOrEqual(0);
      expect(retryPolicy.maximumBackoffSeconds, name).toBeLessThanOrEqual(600);
      expect(retryPolicy.minimumBackoffSeconds).toBeLessThanOrEqual(retryPolicy.maximumBackoffSeconds);
      expect(ackDeadlineSeconds).toBeGreaterThanOrEqual(10);
      expect(ackDeadlineSeconds).toBeLessThanOrEqual(600);
    }
  });

  it('every subscription reads a topic of the topology and feeds a function of it', () => {
    const functionNames = FUNCTIONS.map((fn) => fn.name as string);
    for (const subscription of SUBSCRIPTIONS) {
      expect(topicNames).toContain(subscription.topic);
      expect(functionNames).toContain(subscription.function);
    }
  });

  it('every function has a push subscription or is an HTTP function', () => {
    for (const fn of FUNCTIONS as readonly { name: string; trigger: { kind: string } }[]) {
      const fed = SUBSCRIPTIONS.some((s) => s.function === fn.name);
      expect(fed || fn.trigger.kind === 'http', fn.name).toBe(true);
    }
  });

  it('every schedule publishes to a topic that a function consumes, on a valid cron', () => {
    for (const schedule of SCHEDULES) {
      expect(SUBSCRIPTIONS.map((s) => s.topic), schedule.name).toContain(schedule.topic);
      expect(() => CronExpressionParser.parse(schedule.cron, { tz: schedule.timeZone })).not.toThrow();
      expect(schedule.localEverySeconds).toBeGreaterThan(0);
    }
  });

  it('names are unique: topics, subscriptions, functions, schedules, queries', () => {
    const unique = (names: readonly string[]) => expect(new Set(names).size).toBe(names.length);
    unique(allTopics());
    unique(SUBSCRIPTIONS.map((s) => s.name));
    unique(FUNCTIONS.map((f) => f.name));
    unique(SCHEDULES.map((s) => s.name));
    unique(INDEXED_QUERIES.map((q) => q.name));
    unique(TTL_COLLECTIONS.map((t) => t.collection));
  });

  it('the evidence is kept as long as its anchors: the audit trail, compliance runs and findings expire no sooner than the locked bucket lets go of their anchors', () => {
    const evidence = [COLLECTIONS.audit, COLLECTIONS.complianceRuns, SUBCOLLECTIONS.findings];
    for (const collection of evidence) {
      const ttl = TTL_COLLECTIONS.find((t) => t.collection === collection);
      expect(ttl?.days, collection).toBe(RECORD_RETENTION_DAYS);
    }
    expect(RECORD_RETENTION_DAYS).toBeGreaterThanOrEqual(EVIDENCE_RETENTION_DAYS);
    expect(EVIDENCE_RETENTION_DAYS).toBeGreaterThanOrEqual(400);
    expect(recordExpiry(new Date('2026-01-01T00:00:00Z')).toISOString()).toBe('2027-02-05T00:00:00.000Z');
  });

  it('resource names fit Pub/Sub naming rules', () => {
    const valid = /^[a-zA-Z][a-zA-Z0-9\-_.~+%]{2,254}$/;
    for (const name of [...allTopics(), ...SUBSCRIPTIONS.map((s) => s.name)]) {
      expect(name).toMatch(valid);
      expect(name.startsWith('goog')).toBe(false);
    }
  });

  it('dead-letter topics are exactly those the subscriptions use', () => {
    expect([...DEAD_LETTER_TOPICS].sort()).toEqual([...new Set(SUBSCRIPTIONS.map((s) => s.deadLetter.topic))].sort());
  });

  it('every indexed query is composite (two fields or more) and names its fields once', () => {
    for (const query of INDEXED_QUERIES) {
      expect(query.fields.length, query.name).toBeGreaterThanOrEqual(2);
      const fields = query.fields.map((f) => f.field);
      expect(new Set(fields).size).toBe(fields.length);
    }
  });

  it('the reconciler runs every minute in the cloud', () => {
    const reconcile = SCHEDULES.find((s) => s.name === 'reconcile');
    expect(reconcile?.cron).toBe('* * * * *');
    expect(reconcile?.topic).toBe(TOPICS.reconcile);
  });
});
