/**
 * The interfaces the domain needs from the world. Each has a Google Cloud adapter in
 * shared/gcp and, for the services that cannot run here, a simulator in shared/sim.
 * Adapters give every call a deadline and fail with a retryable ControlPlaneError when it
 * passes; expected "no such thing" answers are values (undefined), not exceptions.
 */
import type { AnyEnvelope, Envelope, EventType, ExecutorAction } from './events/index.js';
import type { PageRequest, SlackText } from './domain/notify/messages.js';

// ---------------------------------------------------------------------------- clock

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

// ---------------------------------------------------------------------------- state store

/** A Firestore document as plain data: JSON values, with Date for timestamps. */
export type DocumentData = Record<string, unknown>;

export type WhereOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'array-contains';

export interface QuerySpec {
  /** A collection path such as `operations` or `rollouts/r1/instances`. */
  collection: string;
  where?: ReadonlyArray<{ field: string; op: WhereOp; value: unknown }>;
  orderBy?: ReadonlyArray<{ field: string; direction?: 'asc' | 'desc' }>;
  limit?: number;
  /** Document id to start after (ordered by document id when no orderBy is given). */
  startAfterId?: string;
}

export interface StoredDocument<T extends object = DocumentData> {
  id: string;
  path: string;
  data: T;
}

/**
 * Reads and writes inside one Firestore transaction. All reads come before any write (as
 * Firestore requires); writes are applied at commit, and the whole callback may run again
 * when the transaction is retried, so it must have no other side effects.
 */
export interface StoreTransaction {
  get<T extends object = DocumentData>(path: string): Promise<T | undefined>;
  getAll<T extends object = DocumentData>(paths: readonly string[]): Promise<Array<T | undefined>>;
  query<T extends object = DocumentData>(spec: QuerySpec): Promise<Array<StoredDocument<T>>>;
  /** A count aggregation read in the transaction (no documents transferred). */
  count(spec: Omit<QuerySpec, 'orderBy' | 'limit' | 'startAfterId'>): Promise<number>;
  /** Fails the commit when the document exists. */
  create(path: string, data: object): void;
  set(path: string, data: object): void;
  /** Merges top-level fields into an existing document; fails the commit when it is missing. */
  update(path: string, data: object): void;
  delete(path: string): void;
}

export interface StateStore {
  get<T extends object = DocumentData>(path: string): Promise<T | undefined>;
  set(path: string, data: object): Promise<void>;
  /** Throws ControlPlaneError `already-exists` when the document exists. */
  create(path: string, data: object): Promise<void>;
  delete(path: string): Promise<void>;
  query<T extends object = DocumentData>(spec: QuerySpec): Promise<Array<StoredDocument<T>>>;
  /** Ids only (no document data transferred), for paging large collections. */
  queryIds(spec: QuerySpec): Promise<string[]>;
  count(spec: Omit<QuerySpec, 'orderBy' | 'limit' | 'startAfterId'>): Promise<number>;
  transaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T>;
}

// ---------------------------------------------------------------------------- event bus

export interface PublishOptions {
  orderingKey?: string;
  attributes?: Record<string, string>;
}

export interface EventBus {
  /** Publishes one envelope as JSON; resolves with the Pub/Sub message id. */
  publish(topic: string, envelope: AnyEnvelope | Envelope<EventType>, options?: PublishOptions): Promise<string>;
}

// ---------------------------------------------------------------------------- Cloud SQL Admin v1

/** `Operation` of the Cloud SQL Admin API (the fields the control plane reads). */
export interface SqlOperation {
  name: string;
  status: 'SQL_OPERATION_STATUS_UNSPECIFIED' | 'PENDING' | 'RUNNING' | 'DONE';
  operationType: string;
  targetId: string;
  targetProject: string;
  insertTime: string;
  startTime?: string;
  endTime?: string;
  /** Present when a DONE operation failed. */
  error?: { errors: Array<{ code: string; message: string }> };
  /** For a backup run insert: the id of the run it created. */
  backupContext?: { backupId: string };
}

export type SqlBackupRunStatus =
  | 'SQL_BACKUP_RUN_STATUS_UNSPECIFIED'
  | 'ENQUEUED'
  | 'OVERDUE'
  | 'RUNNING'
  | 'FAILED'
  | 'SUCCESSFUL'
  | 'SKIPPED'
  | 'DELETION_PENDING'
  | 'DELETION_FAILED'
  | 'DELETED';

/**
 * ON_DEMAND and AUTOMATED runs are deleted with their instance. FINAL is in the reference's
 * list, but the final backup a delete takes is kept as a Backup resource (SqlFinalBackup),
 * not as a run: backupRuns.list on the deleted instance answers 404.
 */
export type SqlBackupRunType = 'ON_DEMAND' | 'AUTOMATED' | 'FINAL';

/** `BackupRun` of the Cloud SQL Admin API. Ids are int64 rendered as decimal strings. */
export interface SqlBackupRun {
  kind: 'sql#backupRun';
  id: string;
  instance: string;
  status: SqlBackupRunStatus;
  type: SqlBackupRunType;
  description?: string;
  enqueuedTime: string;
  windowStartTime?: string;
  startTime?: string;
  endTime?: string;
  location?: string;
  backupKind?: 'SNAPSHOT' | 'PHYSICAL';
  error?: { code: string; message: string };
}

/** `Backup.SqlBackupState` of the Cloud SQL Admin v1 Backups API (cloud_sql_backups.proto). */
export type SqlBackupState =
  | 'SQL_BACKUP_STATE_UNSPECIFIED'
  | 'ENQUEUED'
  | 'RUNNING'
  | 'FAILED'
  | 'SUCCESSFUL'
  | 'DELETING'
  | 'DELETION_FAILED';

/** `Backup.SqlBackupType` of the Cloud SQL Admin v1 Backups API. */
export type SqlBackupType = 'SQL_BACKUP_TYPE_UNSPECIFIED' | 'AUTOMATED' | 'ON_DEMAND' | 'FINAL';

/**
 * A `Backup` resource of the Cloud SQL Admin v1 Backups API (`projects/{p}/backups/{id}`), the
 * form in which the final backup taken by `instances.delete?enableFinalBackup=true` outlives its
 * instance. Only the fields the control plane reads; times as `Date.toISOString()` writes them.
 */
export interface SqlFinalBackup {
  /** `projects/{project}/backups/{backup}`. */
  name: string;
  /** The source instance's name (without the project). */
  instance: string;
  description?: string;
  state: SqlBackupState;
  type: SqlBackupType;
  backupKind?: 'SNAPSHOT' | 'PHYSICAL';
  location?: string;
  /** `backupInterval` (a google.type.Interval): writes up to startTime are in the backup; none after endTime. */
  backupInterval?: { startTime?: string; endTime?: string };
  /** When the backup expires (the `expiration` oneof as the service answers it). */
  expiryTime?: string;
  /** When the source instance was deleted. */
  instanceDeletionTime?: string;
  databaseVersion?: string;
  /** Present when the backup failed. */
  error?: { code: string; message: string };
}

export interface SqlBackupConfiguration {
  enabled: boolean;
  startTime?: string;
  location?: string;
  pointInTimeRecoveryEnabled: boolean;
  transactionLogRetentionDays: number;
  backupRetentionSettings: { retentionUnit: 'COUNT'; retainedBackups: number };
}

export interface SqlInstance {
  name: string;
  project: string;
  region: string;
  databaseVersion: string;
  state: 'RUNNABLE' | 'SUSPENDED' | 'PENDING_DELETE' | 'PENDING_CREATE' | 'MAINTENANCE' | 'FAILED';
  settings: { tier: string; backupConfiguration: SqlBackupConfiguration; deletionProtectionEnabled?: boolean };
  createTime?: string;
}

/** What `instances.insert` needs to create an instance (the fields the control plane sets). */
export interface SqlInstanceSpec {
  name: string;
  region: string;
  databaseVersion: string;
  tier: string;
  backupConfiguration: SqlBackupConfiguration;
}

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

/**
 * Cloud SQL Admin. Errors: `conflict` (409: another operation runs on the instance; retry
 * later), `not-found` (404), `unavailable` (503), `rate-limited` (429).
 */
export interface CloudSqlPort {
  /** Starts an on-demand backup; every call creates a new run (there is no id to dedupe on). */
  insertBackupRun(project: string, instance: string, body: { description: string }): Promise<SqlOperation>;
  listBackupRuns(project: string, instance: string, page?: { pageToken?: string; maxResults?: number }): Promise<Page<SqlBackupRun>>;
  getBackupRun(project: string, instance: string, id: string): Promise<SqlBackupRun | undefined>;
  /**
   * The FINAL backups (Backup resources of the project) taken of the instance of this name
   * (in no promised order), every page read: `backups.list` on `projects/{project}`, filtered to this
   * instance and type FINAL. Answers them while the instance is being deleted and after it
   * is gone, until each expires. An empty list when there are none.
   */
  listFinalBackups(project: string, instance: string): Promise<SqlFinalBackup[]>;
  getOperation(project: string, operation: string): Promise<SqlOperation | undefined>;
  /** Operations on one instance, newest first. */
  listOperations(project: string, instance: string, page?: { pageToken?: string; maxResults?: number }): Promise<Page<SqlOperation>>;
  getInstance(project: string, instance: string): Promise<SqlInstance | undefined>;
  /**
   * Deletes the instance; like the real service, its ordinary backups go with it. With
   * `finalBackup`, a final backup is taken first and retained that many days after deletion;
   * it is a Backup resource of the project (listFinalBackups), not a backup run.
   */
  deleteInstance(
    project: string,
    instance: string,
    options?: { finalBackup?: { retentionDays: number; description: string } },
  ): Promise<SqlOperation>;
  /** `instances.patch` of settings.backupConfiguration only. */
  patchBackupConfiguration(project: string, instance: string, configuration: SqlBackupConfiguration): Promise<SqlOperation>;
  /** instances.patch of `settings.deletionProtectionEnabled`: a protected instance cannot be deleted (400). */
  setDeletionProtection(project: string, instance: string, enabled: boolean): Promise<SqlOperation>;
  /**
   * `instances.restoreBackup`: restores `source`'s backup run into `targetInstance` (in place
   * when it is the source instance; another instance, even in another project, for recovery).
   */
  restoreBackup(project: string, targetInstance: string, source: { project: string; instance: string; backupRunId: string }): Promise<SqlOperation>;
  /** `instances.clone` to a point in time: it always creates a new instance, `destinationInstanceName`. */
  cloneInstance(project: string, instance: string, body: { destinationInstanceName: string; pointInTime: string }): Promise<SqlOperation>;
  /** `instances.insert`: creates an instance (a throwaway, or the target of a recovery). 409 when the name is taken. */
  insertInstance(project: string, spec: SqlInstanceSpec): Promise<SqlOperation>;
  /** `instances.getLatestRecoveryTime`: the latest moment a point-in-time restore can reach. */
  getLatestRecoveryTime(project: string, instance: string): Promise<string | undefined>;
}

// ---------------------------------------------------------------------------- Backup for GKE v1

/** A long-running operation of Backup for GKE. */
export interface GkeOperation {
  name: string;
  done: boolean;
  error?: { code: number; message: string };
  metadata?: Record<string, unknown>;
  response?: Record<string, unknown>;
}

export type GkeBackupState = 'STATE_UNSPECIFIED' | 'CREATING' | 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'DELETING';

/** `Backup` of Backup for GKE v1 (the fields the control plane reads). */
export interface GkeBackup {
  name: string;
  uid: string;
  state: GkeBackupState;
  stateReason?: string;
  manual: boolean;
  description?: string;
  labels?: Record<string, string>;
  createTime: string;
  completeTime?: string;
  retainDays?: number;
  retainExpireTime?: string;
}

/** What a backup plan is created with: the policy of DESIGN.md is daily, 90 days, everything. */
export interface GkeBackupPlanSpec {
  cluster: string;
  cronSchedule: string;
  backupRetainDays: number;
  allNamespaces: boolean;
  includeVolumeData: boolean;
  includeSecrets: boolean;
  labels?: Record<string, string>;
}

export type GkeRestoreState = 'STATE_UNSPECIFIED' | 'CREATING' | 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'DELETING';

/** `Restore` of Backup for GKE v1 (the fields the control plane reads). */
export interface GkeRestore {
  name: string;
  uid: string;
  backup: string;
  cluster: string;
  state: GkeRestoreState;
  stateReason?: string;
  createTime: string;
  completeTime?: string;
}

/**
 * Lets the clusters of its project and region be backed up into `destinationProject` (a
 * cross-project backup plan there is refused without one): `projects/P/locations/L/backupChannels/C`.
 */
export interface GkeBackupChannel {
  name: string;
  /** `projects/{projectId}` or `projects/{projectNumber}`. */
  destinationProject: string;
  uid: string;
  createTime?: string;
}

export interface GkeBackupPlan {
  name: string;
  uid: string;
  cluster: string;
  state: 'STATE_UNSPECIFIED' | 'CLUSTER_PENDING' | 'PROVISIONING' | 'READY' | 'FAILED' | 'DEACTIVATED' | 'DELETING';
  deactivated?: boolean;
  backupSchedule?: { cronSchedule?: string; paused?: boolean };
  retentionPolicy?: { backupRetainDays?: number; backupDeleteLockDays?: number; locked?: boolean };
  backupConfig?: {
    allNamespaces?: boolean;
    includeVolumeData?: boolean;
    includeSecrets?: boolean;
  };
}

/**
 * Backup for GKE. Errors: `already-exists` (409 on a backup id in use: fetch it), `not-found`
 * (404), `unavailable` (503), `rate-limited` (429).
 */
export interface GkeBackupPort {
  /** `parent` is a backup plan name; `backupId` must match ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$. */
  createBackup(parent: string, backupId: string, body: { description?: string; labels?: Record<string, string> }): Promise<GkeOperation>;
  getBackup(name: string): Promise<GkeBackup | undefined>;
  listBackups(parent: string, page?: { pageToken?: string; pageSize?: number }): Promise<Page<GkeBackup>>;
  getBackupPlan(name: string): Promise<GkeBackupPlan | undefined>;
  getOperation(name: string): Promise<GkeOperation | undefined>;
  /** `parent` is projects/P/locations/L (the region that holds the backups). 409 when the id is taken. */
  createBackupPlan(parent: string, backupPlanId: string, spec: GkeBackupPlanSpec): Promise<GkeOperation>;
  /** PATCH of the schedule, retention and scope of an existing plan. */
  updateBackupPlan(name: string, spec: Omit<GkeBackupPlanSpec, 'cluster'>): Promise<GkeOperation>;
  /** A restore plan restores backups of `backupPlan` into `cluster`. 409 when the id is taken. */
  createRestorePlan(parent: string, restorePlanId: string, body: { backupPlan: string; cluster: string }): Promise<GkeOperation>;
  /** Starts restoring `backup` through a restore plan. 409 when the id is taken. */
  createRestore(restorePlan: string, restoreId: string, body: { backup: string }): Promise<GkeOperation>;
  getRestore(name: string): Promise<GkeRestore | undefined>;
  /** `parent` is `projects/P/locations/L` (the cluster's). 409 when the id is taken. */
  createBackupChannel(parent: string, backupChannelId: string, body: { destinationProject: string; labels?: Record<string, string> }): Promise<GkeOperation>;
  getBackupChannel(name: string): Promise<GkeBackupChannel | undefined>;
}

// ---------------------------------------------------------------------------- executor

/**
 * `interrupted`: the run ended part-way through (timed out, cancelled, lost): what it changed is
 * not known, and it may hold a lock. Never idle by itself: a person looks, then abandons.
 */
export type RunState = 'unknown' | 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted';

/** What the executor says of a run; `outputs` are what its steps reported (for an upgrade, whether migrations ran). */
export interface RunStatus {
  state: RunState;
  detail?: string;
  outputs?: Record<string, string>;
}

export interface RunRequest {
  /** The executor deduplicates by this key: one run per key, however often asked. */
  runKey: string;
  /**
   * The runner must refuse the request after this time (ISO 8601): a run not taken up by
   * then never starts. Until then the control plane counts a run the executor does not know
   * of as possibly about to start; after it, as never started.
   */
  refuseAfter: string;
  action: ExecutorAction;
  instanceId: string;
  params: Record<string, string | number | boolean>;
  actor: string;
  reason: string;
}

/**
 * What runs the infrastructure and release work. The runner's contract: one run per run key
 * however often asked; a request past its `refuseAfter` is refused (never run, reported as
 * unknown); finished runs are reported on `mi-executor-results` and their state served by
 * getRunStatus. Over Pub/Sub, each run is requested once, through the outbox.
 */
export interface ExecutorPort {
  requestRun(request: RunRequest): Promise<void>;
  /**
   * `unknown` when the executor has no run of this key (not asked yet, refused, or lost). With
   * `runId` (the executor's own id of the run, as a notification names it), that run is read.
   */
  getRunStatus(runKey: string, runId?: string): Promise<RunStatus>;
}

/**
 * Publishes an event at most once per key, at least once in all: the key's marker and the
 * outbox entry are written in one transaction, published after it, republished by the
 * reconciler when that publish is lost. How run requests reach a runner on Pub/Sub.
 */
export interface OnceOutbox {
  sendOnce(key: string, topic: string, envelope: AnyEnvelope, expireAt: Date): Promise<void>;
}

// ---------------------------------------------------------------------------- instance health

/**
 * An instance's application over HTTPS: one GET of its health or version endpoint. Never throws
 * for what the instance does (a timeout, a refused connection, a 503): that is the answer, with
 * its error, and the gate records it as evidence.
 */
/** One HTTP answer: a status, or the error that kept one from coming. */
export interface HttpAnswer {
  url: string;
  status: number | null;
  /** At most the first 2 KiB. */
  body: string;
  latencyMs: number;
  /** Timed out, refused, not resolved...: why there is no status. */
  error: string | null;
}

export interface HealthPort {
  get(url: string, options: { timeoutMs: number }): Promise<HttpAnswer>;
}

// ---------------------------------------------------------------------------- Cloud Storage (plans)

/** An object's content read as text. */
export interface StoredText {
  text: string;
  /** How many bytes of the object the text holds. */
  bytes: number;
  /** The object is longer than the read allowed: the text is its beginning. */
  truncated: boolean;
}

/** The executor's plans buckets, read with this process's own account (people read plans through the control plane). */
export interface PlanFilesPort {
  /** The object at a `gs://bucket/name` URL as text (its first maxBytes), or undefined when there is none. */
  readText(url: string, options?: { maxBytes?: number }): Promise<StoredText | undefined>;
}

// ---------------------------------------------------------------------------- the evidence bucket

/**
 * The compliance evidence bucket (Cloud Storage, retention policy locked): each day's anchor of
 * the records' hash chains and their export. Objects are only ever created, never replaced:
 * a retention-locked bucket refuses to overwrite or delete one before its retention ends.
 */
export interface EvidenceBucketPort {
  /** The bucket's name. */
  readonly bucket: string;
  /** objects.insert with ifGenerationMatch=0: `already-exists` when the name is taken. Returns the object's generation. */
  create(name: string, content: string, contentType: string): Promise<{ generation: string }>;
  /** objects.get with alt=media: the object's text, or undefined when there is none. */
  read(name: string): Promise<string | undefined>;
}

// ---------------------------------------------------------------------------- the control plane's own database (Firestore Admin)

/** A scheduled backup of a Firestore database (the Backup resource of the Firestore Admin API). */
export interface DatabaseBackup {
  /** `projects/P/locations/L/backups/ID` */
  name: string;
  /** The database it is of: `projects/P/databases/(default)`. */
  database: string;
  /** The backup holds an externally consistent copy of the database as of this time. */
  snapshotTime: string;
  expireTime: string;
  state: 'STATE_UNSPECIFIED' | 'CREATING' | 'READY' | 'NOT_AVAILABLE';
}

/** A long-running operation of the Firestore Admin API (google.longrunning.Operation, the fields the drill reads). */
export interface DatabaseOperation {
  /** `projects/P/databases/D/operations/ID` */
  name: string;
  done: boolean;
  /** What it does, from its metadata's type: `RestoreDatabaseMetadata`, `DeleteDatabaseMetadata`, … */
  kind: string | null;
  /** Set when it ended in failure (google.rpc.Status). */
  error: { code: number; message: string } | null;
  /** How far it is, in percent, when its metadata says. */
  progressPercent: number | null;
}

/**
 * The Firestore Admin API on the control plane's own project, for the drill of its database:
 * list the scheduled backups, restore one into a scratch database, follow the restore, read the
 * scratch database as the default one is read, and delete it.
 */
export interface FirestoreAdminPort {
  /** backups.list on `locations/-`: every backup of the project's databases; locations that did not answer are named. */
  listBackups(): Promise<{ backups: DatabaseBackup[]; unreachable: string[] }>;
  /** databases.restore into a new database: `already-exists` when the id is taken, `not-found` when the backup is gone. */
  restoreDatabase(databaseId: string, backup: string): Promise<DatabaseOperation>;
  /** operations.get */
  getOperation(name: string): Promise<DatabaseOperation>;
  /** operations.list of one database: to find a restore again whose answer was lost. */
  listOperations(databaseId: string): Promise<DatabaseOperation[]>;
  /** databases.delete: `not-found` when there is no such database. */
  deleteDatabase(databaseId: string): Promise<DatabaseOperation>;
  /** The documents of a database of the project, through the Firestore client as the default one is read. */
  openDatabase(databaseId: string): Promise<Pick<StateStore, 'get' | 'query' | 'queryIds' | 'count'>>;
}

// ---------------------------------------------------------------------------- Cloud Scheduler

export interface SchedulerJob {
  /** projects/P/locations/L/jobs/NAME */
  name: string;
  schedule: string;
  timeZone: string;
  state: 'STATE_UNSPECIFIED' | 'ENABLED' | 'PAUSED' | 'DISABLED' | 'UPDATE_FAILED';
  pubsubTarget?: { topicName: string };
  lastAttemptTime?: string;
  /** The result of the last attempt: code 0 is success (google.rpc.Status). */
  status?: { code: number; message?: string };
}

export interface SchedulerPort {
  listJobs(parent: string, page?: { pageToken?: string; pageSize?: number }): Promise<Page<SchedulerJob>>;
}

// ---------------------------------------------------------------------------- identity

/** Who is calling, as a verified Google ID token says: never taken from a request body. */
export interface VerifiedCaller {
  email: string;
  subject: string;
}

/**
 * Verifies a Google ID token (RS256, issuer accounts.google.com, one of the expected audiences,
 * not expired, email verified) against the keys the port is given. Errors: `unauthenticated`.
 */
export interface IdentityPort {
  verify(idToken: string, audience: string | readonly string[]): Promise<VerifiedCaller>;
}

// ---------------------------------------------------------------------------- deployment repository

/** A file changed between two commits, as GitHub's compare API lists it. */
export interface ComparedFile {
  filename: string;
  /** `added`, `removed`, `modified`, `renamed`, `copied`, `changed` or `unchanged`. */
  status: string;
  previous_filename?: string;
}

/** How `head` relates to `base` in history, as GitHub's compare API says (`ahead`: base is an ancestor of head). */
export type CommitAncestry = 'ahead' | 'behind' | 'identical' | 'diverged';

/**
 * The deployment repository: Octokit on GitHub in the cloud, a local git checkout for `mi dev`.
 * Errors: `not-found` when a commit is unknown, `unavailable` / `rate-limited` (retryable).
 */
export interface DeploymentRepoPort {
  /**
   * The file's text at `ref`, or undefined when the commit exists and the file is not in it. An
   * unknown commit is never "no such file": it throws `not-found`.
   */
  readFile(path: string, ref: string): Promise<string | undefined>;
  /** Every file changed from `base` to `head` (all pages). */
  compare(base: string, head: string): Promise<{ files: ComparedFile[] }>;
  /** How `head` relates to `base` in history; either may be a commit id or a branch name. */
  ancestry(base: string, head: string): Promise<CommitAncestry>;
  /** The full commit id `ref` (a branch, or a commit id) names; `not-found` when there is none. */
  resolve(ref: string): Promise<string>;
  /**
   * Commits `content` as `path` on `branch`, as the control plane's own identity (the token's, on
   * GitHub), with `message`; only if the file still holds `expected` (undefined: absent), else
   * `conflict` (retryable: read it again). Returns the new commit.
   */
  writeFile(change: { path: string; branch: string; content: string; message: string; expected: string | undefined }): Promise<{ commit: string }>;
  /**
   * The pull requests GitHub associates with `commit` (`GET /repos/{owner}/{repo}/commits/{sha}/pulls`):
   * [] for a commit pushed without one. `not-found` for a commit the repository does not have.
   */
  pullRequestsOfCommit(commit: string): Promise<RepoRead<RepoPullRequest[]>>;
  /** Every review of a pull request, oldest first, all pages (`GET /repos/{owner}/{repo}/pulls/{n}/reviews`). */
  reviewsOf(pullNumber: number): Promise<RepoRead<RepoReview[]>>;
  /** The protection of `branch` now (`GET /repos/{owner}/{repo}/branches/{branch}/protection`); null when it is not protected (GitHub's 404 "Branch not protected"). */
  branchProtection(branch: string): Promise<RepoRead<RepoBranchProtection | null>>;
}

/** One read of the repository's API, as evidence: the call made and what it answered (the fields the control plane reads). */
export interface RepoRead<T> {
  /** Such as `GET /repos/acme/deployments/commits/<sha>/pulls`. */
  call: string;
  value: T;
}

/** A pull request as GitHub lists it (the fields read). */
export interface RepoPullRequest {
  number: number;
  /** `html_url`. */
  url: string;
  state: 'open' | 'closed';
  /** `user.login`; null for a deleted account. */
  author: string | null;
  /** `merged_at`; null when not merged. */
  mergedAt: string | null;
  /** `merge_commit_sha`. */
  mergeCommitSha: string | null;
  /** `base.ref`: the branch it merges into. */
  baseRef: string;
  /** `head.sha`: the last commit of the pull request. */
  headSha: string;
}

export const REVIEW_STATES = ['APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED', 'PENDING'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];

/** A review of a pull request as GitHub lists it (the fields read). */
export interface RepoReview {
  id: number;
  /** `user.login`; null for a deleted account. */
  reviewer: string | null;
  state: ReviewState;
  /** `commit_id`: the commit the review was made on. */
  commitId: string | null;
  /** `submitted_at`; absent for a pending review. */
  submittedAt: string | null;
}

/** A branch's protection as GitHub answers it (the fields read). */
export interface RepoBranchProtection {
  /** `required_pull_request_reviews.required_approving_review_count`; null when reviews are not required. */
  requiredApprovingReviewCount: number | null;
  /** `required_pull_request_reviews.dismiss_stale_reviews`. */
  dismissStaleReviews: boolean;
  /** `required_pull_request_reviews.require_code_owner_reviews`. */
  requireCodeOwnerReviews: boolean;
  /** `enforce_admins.enabled`: administrators are held to it too. */
  enforceAdmins: boolean;
  /** `required_status_checks`: null when none are required. */
  requiredStatusChecks: { strict: boolean; contexts: string[] } | null;
}

// ---------------------------------------------------------------------------- access (PAM, IAM policies)

/** A PAM grant's states (v1 `Grant.State`). */
export type GrantState =
  | 'APPROVAL_AWAITED'
  | 'DENIED'
  | 'SCHEDULED'
  | 'ACTIVATING'
  | 'ACTIVE'
  | 'ACTIVATION_FAILED'
  | 'EXPIRED'
  | 'REVOKING'
  | 'REVOKED'
  | 'ENDED'
  | 'WITHDRAWING'
  | 'WITHDRAWN';

interface ActorReason {
  actor?: string | undefined;
  reason?: string | undefined;
}

/** One event of a grant's timeline: exactly one kind is set (the API's oneof). */
export interface GrantEvent {
  eventTime: string;
  requested?: { expireTime?: string | undefined } | undefined;
  approved?: ActorReason | undefined;
  denied?: ActorReason | undefined;
  revoked?: ActorReason | undefined;
  withdrawn?: object | undefined;
  scheduled?: { scheduledActivationTime?: string | undefined } | undefined;
  activated?: object | undefined;
  activationFailed?: { error?: { code?: number | undefined; message?: string | undefined } | undefined } | undefined;
  expired?: object | undefined;
  ended?: object | undefined;
  externallyModified?: object | undefined;
}

/** A PAM grant as the v1 API represents it (projects|folders.locations.entitlements.grants). */
export interface Grant {
  name: string;
  createTime: string;
  updateTime?: string | undefined;
  requester: string;
  /** `3600s` */
  requestedDuration: string;
  justification?: { unstructuredJustification?: string | undefined } | undefined;
  state: GrantState;
  timeline?: { events: GrantEvent[] } | undefined;
  privilegedAccess?: { gcpIamAccess: { resourceType: string; resource: string; roleBindings: Array<{ role: string; conditionExpression?: string | undefined }> } } | undefined;
  auditTrail?: { accessGrantTime?: string | undefined; accessRemoveTime?: string | undefined } | undefined;
  additionalEmailRecipients?: string[] | undefined;
  externallyModified?: boolean | undefined;
}

/** One binding of an IAM policy (a folder's or a project's own, which leaves out what it inherits). */
export interface PolicyBinding {
  resource: string;
  role: string;
  members: readonly string[];
  condition?: { expression?: string; title?: string } | undefined;
}

/** Privileged Access Manager, as the caller: who asks is whoever the credentials are, and PAM checks what they may do. */
export type CallerRelationship = 'HAD_CREATED' | 'CAN_APPROVE' | 'HAD_APPROVED';

export interface AccessPort {
  /** grants.create on `entitlement` (its full name), for `hours` with a justification. */
  request(entitlement: string, hours: number, justification: string): Promise<Grant>;
  /** grants.search (with a relationship) or grants.list (without), every page. */
  grants(entitlement: string, relationship?: CallerRelationship): Promise<Grant[]>;
  get(grant: string): Promise<Grant>;
  approve(grant: string, reason: string): Promise<Grant>;
  deny(grant: string, reason: string): Promise<Grant>;
  /** grants.revoke: a long-running operation, waited for. */
  revoke(grant: string, reason: string): Promise<void>;
}

/** A folder's or a project's own IAM policy (Resource Manager getIamPolicy), read only. */
export interface IamPolicyPort {
  bindings(resource: string): Promise<PolicyBinding[]>;
}

// ---------------------------------------------------------------------------- notifications

/** Slack's incoming webhooks: one POST per message, answered "ok" or with Slack's reason. */
export interface SlackPort {
  /** Posts the message; a refused one (404 no_service, 400 invalid_payload…) fails for good, a 429 or 5xx retryably. */
  post(webhookUrl: string, message: SlackText): Promise<void>;
}

/** OpsGenie's alerts API: an open alert with the same alias is not created again (it counts the repeat). */
export interface PagerPort {
  page(request: PageRequest): Promise<{ requestId: string }>;
}
