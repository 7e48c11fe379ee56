/**
 * Firestore: the database, a composite index for every query the topology registers (the
 * emulator does not enforce them, production does), the TTL policies, and the scheduled backups.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { IndexedQuery } from '../shared/topology.js';
import type { TtlCollection } from './model.js';

/** The scheduled backups of the control plane's database (Firestore keeps a daily one at most 7 days, a weekly one 14 weeks). */
export const FIRESTORE_BACKUP_SCHEDULES = [
  { name: 'daily', retentionDays: 7, weekday: undefined },
  { name: 'weekly', retentionDays: 98, weekday: 'SUNDAY' },
] as const;

export interface FirestoreArgs {
  project: string;
  location: string;
  indexedQueries: readonly IndexedQuery[];
  ttlCollections: readonly TtlCollection[];
}

export class FirestoreDatabase extends pulumi.ComponentResource {
  readonly database: gcp.firestore.Database;

  constructor(name: string, args: FirestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:Firestore', name, {}, opts);
    const { project } = args;
    this.database = new gcp.firestore.Database(
      name,
      {
        project,
        name: '(default)',
        locationId: args.location,
        type: 'FIRESTORE_NATIVE',
        concurrencyMode: 'PESSIMISTIC',
        pointInTimeRecoveryEnablement: 'POINT_IN_TIME_RECOVERY_ENABLED',
        deleteProtectionState: 'DELETE_PROTECTION_ENABLED',
        // The audit trail lives here: `pulumi destroy` leaves the database in place.
        deletionPolicy: 'ABANDON',
      },
      // Retained, not protected: `pulumi destroy` completes and leaves the database in place
      // (deletion protection on its side keeps anything else from deleting it).
      { parent: this, retainOnDelete: true },
    );
    // The control plane's own records are evidence too: a daily backup kept a week and a weekly
    // one kept 14 weeks (Firestore's longest), beside point-in-time recovery's 7 days.
    for (const schedule of FIRESTORE_BACKUP_SCHEDULES) {
      new gcp.firestore.BackupSchedule(
        `${name}-${schedule.name}-backup`,
        {
          project,
          database: this.database.name,
          retention: `${schedule.retentionDays * 86_400}s`,
          ...(schedule.weekday === undefined ? { dailyRecurrence: {} } : { weeklyRecurrence: { day: schedule.weekday } }),
        },
        { parent: this },
      );
    }
    for (const query of args.indexedQueries) {
      new gcp.firestore.Index(
        `${name}-${query.name}`,
        {
          project,
          database: this.database.name,
          collection: query.collection,
          queryScope: query.collectionGroup ? 'COLLECTION_GROUP' : 'COLLECTION',
          fields: query.fields.map((f) => ({ fieldPath: f.field, order: f.order })),
        },
        { parent: this },
      );
    }
    for (const ttl of args.ttlCollections) {
      new gcp.firestore.Field(
        `${name}-${ttl.collection}-ttl`,
        {
          project,
          database: this.database.name,
          collection: ttl.collection,
          field: ttl.field,
          ttlConfig: {},
          // A timestamp every document gets needs no single-field index (and would be a write hotspot).
          indexConfig: {},
        },
        { parent: this },
      );
    }
    this.registerOutputs({ database: this.database.name });
  }
}
