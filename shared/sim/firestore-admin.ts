/**
 * The Firestore Admin API of the control plane's own project, simulated on the Firestore
 * emulator: a scheduled backup is a copy of every document of the emulator's default database
 * at that moment (read with an all-descendants query), and a restore writes that copy into a
 * named database of the same emulator, where the control plane reads it with its own Firestore
 * client. It does not cooperate: a backup is CREATING for a while before it is READY, a restore
 * takes time and its database holds only part of the documents until the operation is done,
 * a taken database id answers ALREADY_EXISTS, a deleted database is gone (its documents with
 * it), and faults come only as what the API answers (or as a restore that loses documents,
 * the failure a drill exists to catch).
 */
import { randomBytes } from 'node:crypto';
import { ControlPlaneError } from '../errors.js';
import type { DatabaseBackup, DatabaseOperation } from '../ports.js';
import { FaultInjector, type ServiceErrorStyle } from './faults.js';

export type FirestoreAdminMethod = 'listBackups' | 'restoreDatabase' | 'getOperation' | 'listOperations' | 'deleteDatabase';

const STYLE: ServiceErrorStyle = { service: 'Firestore Admin', conflictCode: 'already-exists' };

/** A document as the REST API carries it: its full name and typed fields, copied as they are. */
interface RestDocument {
  name: string;
  fields?: Record<string, unknown>;
}

interface StoredBackup {
  id: string;
  snapshotTime: Date;
  readyAt: Date;
  expireTime: Date;
  documents: RestDocument[];
}

interface SimOperation {
  name: string;
  kind: 'RestoreDatabaseMetadata' | 'DeleteDatabaseMetadata';
  databaseId: string;
  startTime: Date;
  /** When it finishes (on the first read after this time). */
  doneAt: Date;
  done: boolean;
  error: { code: number; message: string } | null;
  /** The restore's documents not written yet. */
  pending: RestDocument[];
  total: number;
  backup: string | null;
}

export interface SimulatedFirestoreAdminOptions {
  /** The emulator's host:port (FIRESTORE_EMULATOR_HOST). */
  emulatorHost: string;
  project: string;
  clock?: { now(): Date };
  /** How often the backup schedule takes a backup (daily in infra/firestore.ts). */
  backupEveryMs?: number;
  /** When the schedule takes its first backup, after the simulator starts. */
  firstBackupAfterMs?: number;
  /** How long a backup is CREATING. */
  readyAfterMs?: number;
  /** How long a backup is kept (the daily schedule's 7 days). */
  retentionMs?: number;
  /** How long a restore takes. */
  restoreMs?: number;
}

/** `databases.restore` requires: 4 to 63 of lowercase letters, digits and hyphens, a letter first, no hyphen last, not UUID-like. */
const DATABASE_ID = /^[a-z][a-z0-9-]{2,61}[a-z0-9]$/;
const UUID_LIKE = /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/;

function apiError(httpStatus: number, status: string, message: string): ControlPlaneError {
  const code = httpStatus === 404 ? 'not-found' : httpStatus === 409 ? 'already-exists' : httpStatus >= 500 ? 'unavailable' : 'failed-precondition';
  return new ControlPlaneError(code, message, { details: { httpStatus, status, service: STYLE.service } });
}

export class SimulatedFirestoreAdmin {
  readonly faults = new FaultInjector<FirestoreAdminMethod>(STYLE);
  private readonly clock: { now(): Date };
  private readonly backups: StoredBackup[] = [];
  private readonly operations = new Map<string, SimOperation>();
  /** Databases restored and not deleted: their id and the restore that made them. */
  private readonly databases = new Map<string, string>();
  private nextScheduled: number;
  private losing: ((documentPath: string) => boolean) | undefined;
  private failing: { code: number; message: string } | undefined;

  constructor(private readonly options: SimulatedFirestoreAdminOptions) {
    this.clock = options.clock ?? { now: () => new Date() };
    this.nextScheduled = this.clock.now().getTime() + (options.firstBackupAfterMs ?? 0);
  }

  get project(): string {
    return this.options.project;
  }

  /** The location the simulated database lives in (a multi-region, as the control plane's does). */
  readonly location = 'nam5';

  private documentsUrl(database: string): string {
    return `http://${this.options.emulatorHost}/v1/projects/${this.options.project}/databases/${database}/documents`;
  }

  /** Takes a backup of the default database now (what the backup schedule does when due). */
  async takeBackup(): Promise<DatabaseBackup> {
    const now = this.clock.now();
    const response = await fetch(`${this.documentsUrl('(default)')}:runQuery`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer owner' },
      body: JSON.stringify({ structuredQuery: { from: [{ allDescendants: true }] } }),
    });
    if (!response.ok) throw new Error(`firestore admin sim: reading the emulator for a backup answered ${response.status}: ${await response.text()}`);
    const rows = (await response.json()) as Array<{ document?: RestDocument }>;
    const documents = rows.flatMap((row) => (row.document === undefined ? [] : [{ name: row.document.name, ...(row.document.fields === undefined ? {} : { fields: row.document.fields }) }]));
    const backup: StoredBackup = {
      id: randomBytes(8).toString('hex'),
      snapshotTime: now,
      readyAt: new Date(now.getTime() + (this.options.readyAfterMs ?? 5 * 60_000)),
      expireTime: new Date(now.getTime() + (this.options.retentionMs ?? 7 * 86_400_000)),
      documents,
    };
    this.backups.push(backup);
    return this.resourceOf(backup);
  }

  private resourceOf(backup: StoredBackup): DatabaseBackup {
    const now = this.clock.now().getTime();
    return {
      name: `projects/${this.options.project}/locations/${this.location}/backups/${backup.id}`,
      database: `projects/${this.options.project}/databases/(default)`,
      snapshotTime: backup.snapshotTime.toISOString(),
      expireTime: backup.expireTime.toISOString(),
      state: now < backup.readyAt.getTime() ? 'CREATING' : 'READY',
    };
  }

  /** The backup schedule: a backup when one is due, and expired ones gone (run on every list, and by a timer where one runs). */
  async runSchedule(): Promise<void> {
    const now = this.clock.now().getTime();
    for (let i = this.backups.length - 1; i >= 0; i -= 1) if ((this.backups[i]?.expireTime.getTime() ?? 0) <= now) this.backups.splice(i, 1);
    if (now >= this.nextScheduled) {
      await this.takeBackup();
      this.nextScheduled = now + (this.options.backupEveryMs ?? 86_400_000);
    }
  }

  /** The next restores lose the documents a predicate names (a restore that is not whole). */
  loseOnRestore(predicate: ((documentPath: string) => boolean) | undefined): void {
    this.losing = predicate;
  }

  /** The next restores end in this error (google.rpc.Status). */
  failRestores(error: { code: number; message: string } | undefined): void {
    this.failing = error;
  }

  /** The databases restored and not deleted. */
  databaseIds(): string[] {
    return [...this.databases.keys()].sort();
  }

  listBackups(): Promise<{ backups: DatabaseBackup[]; unreachable: string[] }> {
    return this.faults.call('listBackups', this.options.project, async () => {
      await this.runSchedule();
      return { backups: this.backups.map((b) => this.resourceOf(b)), unreachable: [] };
    });
  }

  restoreDatabase(databaseId: string, backupName: string): Promise<DatabaseOperation> {
    return this.faults.call('restoreDatabase', databaseId, async () => {
      if (!DATABASE_ID.test(databaseId) || UUID_LIKE.test(databaseId) || databaseId === '(default)') {
        throw apiError(400, 'INVALID_ARGUMENT', `Database ID '${databaseId}' is not valid: 4-63 characters of lowercase letters, digits and hyphens, starting with a letter and ending with a letter or a digit.`);
      }
      const id = backupName.split('/').at(-1);
      const backup = this.backups.find((b) => b.id === id && backupName === this.resourceOf(b).name);
      if (backup === undefined) throw apiError(404, 'NOT_FOUND', `Backup ${backupName} not found.`);
      if (this.resourceOf(backup).state !== 'READY') throw apiError(400, 'FAILED_PRECONDITION', `Backup ${backupName} is not ready.`);
      if (this.databases.has(databaseId)) throw apiError(409, 'ALREADY_EXISTS', `Database projects/${this.options.project}/databases/${databaseId} already exists.`);
      const now = this.clock.now();
      const lose = this.losing;
      const documents = backup.documents
        .filter((doc) => lose === undefined || !lose(doc.name.slice(doc.name.indexOf('/documents/') + '/documents/'.length)))
        .map((doc) => ({ ...doc, name: doc.name.replace('/databases/(default)/documents/', `/databases/${databaseId}/documents/`) }));
      const operation: SimOperation = {
        name: `projects/${this.options.project}/databases/${databaseId}/operations/${randomBytes(12).toString('base64url')}`,
        kind: 'RestoreDatabaseMetadata',
        databaseId,
        startTime: now,
        doneAt: new Date(now.getTime() + (this.options.restoreMs ?? 2 * 60_000)),
        done: false,
        error: null,
        pending: documents,
        total: documents.length,
        backup: backupName,
      };
      this.databases.set(databaseId, operation.name);
      this.operations.set(operation.name, operation);
      // Half of it at once: a database read before its restore is done is not whole.
      await this.write(operation, Math.ceil(documents.length / 2));
      return this.resourceOfOperation(operation);
    });
  }

  private async write(operation: SimOperation, count: number): Promise<void> {
    const batch = operation.pending.splice(0, count);
    for (let i = 0; i < batch.length; i += 500) {
      const writes = batch.slice(i, i + 500).map((doc) => ({ update: { name: doc.name, fields: doc.fields ?? {} } }));
      const response = await fetch(`${this.documentsUrl(operation.databaseId)}:batchWrite`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer owner' },
        body: JSON.stringify({ writes }),
      });
      if (!response.ok) throw new Error(`firestore admin sim: writing a restore into the emulator answered ${response.status}: ${await response.text()}`);
    }
  }

  private async advance(operation: SimOperation): Promise<void> {
    if (operation.done || this.clock.now().getTime() < operation.doneAt.getTime()) return;
    if (operation.kind === 'RestoreDatabaseMetadata' && this.failing !== undefined) {
      operation.error = { ...this.failing };
      operation.pending = [];
    } else {
      await this.write(operation, operation.pending.length);
    }
    operation.done = true;
  }

  private resourceOfOperation(operation: SimOperation): DatabaseOperation {
    const written = operation.total - operation.pending.length;
    return {
      name: operation.name,
      done: operation.done,
      kind: operation.kind,
      error: operation.error,
      progressPercent: operation.kind === 'RestoreDatabaseMetadata' ? (operation.total === 0 ? (operation.done ? 100 : 0) : Math.round((written / operation.total) * 100)) : null,
    };
  }

  /** The operation as the REST API answers it (google.longrunning.Operation with its metadata). */
  restResourceOf(operation: DatabaseOperation): Record<string, unknown> {
    const stored = this.operations.get(operation.name);
    const metadata =
      stored?.kind === 'RestoreDatabaseMetadata'
        ? {
            '@type': 'type.googleapis.com/google.firestore.admin.v1.RestoreDatabaseMetadata',
            startTime: stored.startTime.toISOString(),
            ...(stored.done ? { endTime: stored.doneAt.toISOString() } : {}),
            operationState: stored.done ? (stored.error === null ? 'SUCCESSFUL' : 'FAILED') : 'PROCESSING',
            database: `projects/${this.options.project}/databases/${stored.databaseId}`,
            backup: stored.backup,
            progressPercentage: { workEstimated: String(stored.total), workCompleted: String(stored.total - stored.pending.length) },
          }
        : { '@type': 'type.googleapis.com/google.firestore.admin.v1.DeleteDatabaseMetadata' };
    return {
      name: operation.name,
      metadata,
      ...(operation.done ? { done: true } : {}),
      ...(operation.error === null ? {} : { error: operation.error }),
      ...(operation.done && operation.error === null && stored?.kind === 'RestoreDatabaseMetadata'
        ? { response: { '@type': 'type.googleapis.com/google.firestore.admin.v1.Database', name: `projects/${this.options.project}/databases/${stored.databaseId}`, type: 'FIRESTORE_NATIVE', locationId: this.location } }
        : {}),
    };
  }

  getOperation(name: string): Promise<DatabaseOperation> {
    return this.faults.call('getOperation', name, async () => {
      const operation = this.operations.get(name);
      if (operation === undefined) throw apiError(404, 'NOT_FOUND', `Operation ${name} not found.`);
      await this.advance(operation);
      return this.resourceOfOperation(operation);
    });
  }

  listOperations(databaseId: string): Promise<DatabaseOperation[]> {
    return this.faults.call('listOperations', databaseId, async () => {
      const found = [...this.operations.values()].filter((op) => op.databaseId === databaseId);
      for (const op of found) await this.advance(op);
      return found.map((op) => this.resourceOfOperation(op));
    });
  }

  deleteDatabase(databaseId: string): Promise<DatabaseOperation> {
    return this.faults.call('deleteDatabase', databaseId, async () => {
      if (!this.databases.has(databaseId)) throw apiError(404, 'NOT_FOUND', `Database projects/${this.options.project}/databases/${databaseId} not found.`);
      const response = await fetch(`http://${this.options.emulatorHost}/emulator/v1/projects/${this.options.project}/databases/${databaseId}/documents`, { method: 'DELETE' });
      if (!response.ok) throw new Error(`firestore admin sim: clearing the emulator's ${databaseId} answered ${response.status}`);
      this.databases.delete(databaseId);
      const now = this.clock.now();
      const operation: SimOperation = { name: `projects/${this.options.project}/databases/${databaseId}/operations/${randomBytes(12).toString('base64url')}`, kind: 'DeleteDatabaseMetadata', databaseId, startTime: now, doneAt: now, done: true, error: null, pending: [], total: 0, backup: null };
      this.operations.set(operation.name, operation);
      return this.resourceOfOperation(operation);
    });
  }
}
