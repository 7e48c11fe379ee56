/**
 * Cloud SQL Admin v1 operations: what every mutating call answers, mapped to the port's type,
 * and the port's operations.get and operations.list.
 */
import { protos } from '@google-cloud/sql';
import type { CloudSqlPort, SqlOperation } from '../ports.js';
import { pageOf, pagingOf, required, type CloudSqlClients, type SqlCalls } from './cloud-sql-calls.js';
import { enumName, int64String, malformedAnswer, oneOf, optionalString, toIsoTime } from './google-api.js';

const v1 = protos.google.cloud.sql.v1;
type IOperation = protos.google.cloud.sql.v1.IOperation;

const OPERATION_STATUSES: ReadonlyArray<SqlOperation['status']> = ['SQL_OPERATION_STATUS_UNSPECIFIED', 'PENDING', 'RUNNING', 'DONE'];

/** Maps an `Operation` of Cloud SQL Admin v1 to the port's type. */
export function toSqlOperation(what: string, op: IOperation, fallback: { project: string; instance?: string }): SqlOperation {
  const errors = (op.error?.errors ?? []).map((e) => ({ code: e.code ?? '', message: e.message ?? '' }));
  const backupId = int64String(op.backupContext?.backupId);
  const startTime = toIsoTime(op.startTime);
  const endTime = toIsoTime(op.endTime);
  const insertTime = toIsoTime(op.insertTime);
  if (insertTime === undefined) throw malformedAnswer(what, 'insertTime', 'missing', op.insertTime);
  return {
    name: required(what, 'name', op.name),
    status: oneOf(what, 'status', enumName(op.status, v1.Operation.SqlOperationStatus), OPERATION_STATUSES),
    operationType: required(what, 'operationType', enumName(op.operationType, v1.Operation.SqlOperationType)),
    targetId: optionalString(op.targetId) ?? fallback.instance ?? '',
    targetProject: optionalString(op.targetProject) ?? fallback.project,
    insertTime,
    ...(startTime === undefined ? {} : { startTime }),
    ...(endTime === undefined ? {} : { endTime }),
    ...(errors.length === 0 ? {} : { error: { errors } }),
    ...(backupId === undefined ? {} : { backupContext: { backupId } }),
  };
}

/** The port's operation reads on the operations client. */
export function operationMethods(operations: CloudSqlClients['operations'], calls: SqlCalls): Pick<CloudSqlPort, 'getOperation' | 'listOperations'> {
  return {
    async getOperation(project, operation) {
      const what = `Cloud SQL operations.get ${project}/${operation}`;
      const answer = await calls.get(what, () => operations.get({ project, operation }, calls.options));
      return answer === undefined ? undefined : toSqlOperation(what, answer[0], { project });
    },

    async listOperations(project, instance, page = {}) {
      const what = `Cloud SQL operations.list ${project}/${instance}`;
      const [answer] = await calls.call(what, () => operations.list({ project, instance, ...pagingOf(page) }, calls.options));
      return pageOf((answer.items ?? []).map((op) => toSqlOperation(what, op, { project, instance })), answer.nextPageToken);
    },
  };
}
