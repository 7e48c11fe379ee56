/**
 * The compliance evidence bucket: each day's anchor of the records' hash chains and their export
 * (shared/compliance/anchors.ts). Its retention policy is locked: no one, the project's owners
 * included, can delete or replace an object before it is EVIDENCE_RETENTION_DAYS old, nor
 * shorten the policy, nor delete the bucket while it holds one. Someone who can edit Firestore
 * cannot also rewrite the anchor.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { EVIDENCE_RETENTION_DAYS, evidenceBucketName } from '../shared/domain/compliance/anchor.js';

export interface EvidenceBucketArgs {
  project: string;
  /** A multi-region or region (anchors are small; a multi-region keeps them through a regional outage). */
  location: string;
}

export class EvidenceBucket extends pulumi.ComponentResource {
  readonly bucket: gcp.storage.Bucket;

  constructor(name: string, args: EvidenceBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:EvidenceBucket', name, {}, opts);
    this.bucket = new gcp.storage.Bucket(
      name,
      {
        project: args.project,
        name: evidenceBucketName(args.project),
        location: args.location,
        storageClass: 'STANDARD',
        uniformBucketLevelAccess: true,
        publicAccessPrevention: 'enforced',
        // Locking is for good: a later `pulumi up` can lengthen the period, never shorten or unlock it.
        retentionPolicy: { retentionPeriod: String(EVIDENCE_RETENTION_DAYS * 86_400), isLocked: true },
        // Objects past their retention stay until someone decides; a lifecycle rule would be a second
        // way to delete evidence, and an auditor may ask for more than 400 days.
        forceDestroy: false,
      },
      // The evidence outlives the stack: `pulumi destroy` leaves it (the locked policy would refuse anyway).
      { parent: this, retainOnDelete: true },
    );
    this.registerOutputs({ bucket: this.bucket.name });
  }
}
