/**
 * Firestore: the database, a composite index for every query the topology registers (the
 * emulator does not enforce them, production does) and the TTL policies.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { IndexedQuery } from '../shared/topology.js';
import type { TtlCollection } from './model.js';

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
