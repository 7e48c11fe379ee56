/**
 * What the compliance integration tests share: a pull subscription that collects what is
 * published on a topic and hands it back as the CloudEvents the push subscription would
 * deliver, and a fleet seeded with one fault per instance through what the simulators answer.
 */
import { createCompliance, type Compliance, type ComplianceInput } from '../../../shared/compliance/index.js';
import { randomBytes } from 'node:crypto';
import type { Message, Subscription } from '@google-cloud/pubsub';
import type { InstanceRecord } from '../../../shared/events/index.js';
import { resourceNamesFor } from '../../../shared/sim/index.js';
import { pubSubCloudEvent, type PubSubCloudEvent } from '../../../harness/cloud-event.js';
import type { EngineFixture } from '../../support/engine-fixture.js';
import { paths } from '../../../shared/store/collections.js';

/** Every message published on a topic from now on, as pushed CloudEvents. */
export class Tap {
  private readonly messages: Message[] = [];

  private constructor(
    private readonly subscription: Subscription,
    private readonly topic: string,
    private readonly projectId: string,
  ) {
    subscription.on('message', (message: Message) => {
      message.ack();
      this.messages.push(message);
    });
  }

  static async open(f: EngineFixture, topic: string): Promise<Tap> {
    const [subscription] = await f.pubsub.topic(topic).createSubscription(`tap-${randomBytes(4).toString('hex')}`);
    return new Tap(subscription, topic, f.projectId);
  }

  /** Waits until at least `count` messages arrived (and a little longer for stragglers), then takes them all. */
  async take(count: number, timeoutMs = 15_000): Promise<PubSubCloudEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    return this.messages.splice(0).map((m) =>
      pubSubCloudEvent(
        { raw: m.data.toString('base64') },
        { project: this.projectId, topic: this.topic, message: { messageId: m.id, publishTime: m.publishTime.toISOString(), attributes: { ...m.attributes } } },
      ),
    );
  }

  async close(): Promise<void> {
    await this.subscription.close();
    await this.subscription.delete();
  }
}

/** A scheduler's static message, as Cloud Scheduler (or the local clock) publishes it. */
export function scheduleDelivery(f: EngineFixture, schedule: string, publishTime: Date): PubSubCloudEvent {
  return pubSubCloudEvent({ schedule }, { project: f.projectId, topic: 'mi-compliance', message: { attributes: { schedule }, publishTime: publishTime.toISOString() } });
}

export type Fault =
  | 'healthy'
  | 'backups-off'
  | 'pitr-off'
  | 'stale-backup'
  | 'wrong-retention'
  | 'missing-gke-plan'
  | 'gke-own-region'
  | 'failed-gke-backup'
  | 'expired-dev';

const HOUR = 3_600_000;

/** Seeds one instance whose only fault is `fault`, injected through what the simulated APIs answer. */
export async function seedWithFault(f: EngineFixture, id: string, fault: Fault): Promise<InstanceRecord> {
  const region = 'us-central1';
  const now = f.clock.now().getTime();
  const names = resourceNamesFor(id, region);
  const backupPlan = fault === 'gke-own-region' ? `projects/${names.project}/locations/${region}/backupPlans/${id}-daily` : names.backupPlan;
  f.fleet.cloudSql.addInstance({ project: names.project, name: names.sqlInstance, region });
  f.fleet.gkeBackup.addCluster(names.gkeCluster);
  if (fault !== 'missing-gke-plan') f.fleet.gkeBackup.addBackupPlan({ name: backupPlan, cluster: names.gkeCluster });
  // A week of daily automated backups, the latest 6 hours old (30 hours for a stale one).
  const lastSqlAge = fault === 'stale-backup' ? 30 : 6;
  f.fleet.cloudSql.seedAutomatedBackups(
    names.project,
    names.sqlInstance,
    Array.from({ length: 7 }, (_, day) => ({ endTime: new Date(now - (lastSqlAge + 24 * day) * HOUR) })),
  );
  if (fault !== 'missing-gke-plan') {
    f.fleet.gkeBackup.seedBackups(backupPlan, [
      { createTime: new Date(now - 31 * HOUR), state: 'SUCCEEDED' },
      { createTime: new Date(now - 7 * HOUR), state: fault === 'failed-gke-backup' ? 'FAILED' : 'SUCCEEDED' },
    ]);
  }
  if (fault === 'backups-off') f.fleet.cloudSql.setBackupConfiguration(names.project, names.sqlInstance, { enabled: false });
  if (fault === 'pitr-off') f.fleet.cloudSql.setBackupConfiguration(names.project, names.sqlInstance, { pointInTimeRecoveryEnabled: false });
  if (fault === 'wrong-retention') f.fleet.cloudSql.setBackupConfiguration(names.project, names.sqlInstance, { backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: 3 } });
  const at = f.clock.now().toISOString();
  const dev = fault === 'expired-dev';
  const record: InstanceRecord = {
    id,
    slug: id,
    environment: dev ? 'dev' : 'prod',
    tier: dev ? 'internal' : 'customer',
    domain: `${id}.example.com`,
    region,
    version: '5.4.2',
    ...(dev ? { expiresAt: new Date(now - 2 * HOUR).toISOString() } : { maintenanceWindow: { days: ['sat', 'sun'], start: '02:00', hours: 4, timeZone: 'America/New_York' } }),
    status: 'active',
    resources: { ...names, backupPlan, backupPlanRegion: fault === 'gke-own-region' ? region : names.backupPlanRegion },
    lease: null,
    generation: 1,
    createdAt: at,
    updatedAt: at,
  };
  await f.store.set(paths.instance(id), record);
  return record;
}

/** The compliance service on the fixture's world (its store, bus, clock and simulated fleet), with any setting given. */
export function complianceOn(f: EngineFixture, schedulerParent: string, extra: Partial<ComplianceInput> = {}): Compliance {
  return createCompliance({ store: f.store, bus: f.bus, cloudSql: f.fleet.cloudSql, gkeBackup: f.fleet.gkeBackup, scheduler: f.fleet.scheduler, clock: f.clock, schedulerParent, drillFollowMs: 0, ...extra });
}
