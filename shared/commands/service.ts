/**
 * The commands a person sends, carried out with the verified caller as the actor: lifecycle
 * commands and compliance runs go through the outbox (once per event id the caller chose, so a
 * retried request is the same command), the rest to the service that owns them.
 */
import type { ModuleApplyRecord } from '../domain/deployments/applies.js';
import { isPlanObjectOf, planTextObjectOf } from '../domain/executor/index.js';
import { operationIdFor } from '../domain/lifecycle/operations.js';
import { parseWaves, WaveSpecError, DEFAULT_WAVES } from '../domain/rollout/index.js';
import type { DeploymentsConsumer } from '../deployments/index.js';
import type { Engine } from '../engine/index.js';
import { ControlPlaneError } from '../errors.js';
import { DecodeError, makeEnvelope, type AnyEnvelope, type InstanceRecord } from '../events/index.js';
import { extendExpiry } from '../compliance/retention.js';
import type { Logger } from '../log.js';
import type { Clock, CloudSqlPort, DeploymentRepoPort, EventBus, GkeBackupPort, PlanFilesPort, StateStore, VerifiedCaller } from '../ports.js';
import { readWorkflowOutputs, type Rollouts } from '../rollout/index.js';
import type { RolloutRecord } from '../domain/rollout/index.js';
import type { AccessGrantRecord } from '../compliance/access.js';
import { compliancePaths, deploymentPaths, paths, rolloutPaths } from '../store/collections.js';
import { publishOutbox } from '../store/outbox.js';
import { appendAudit, enqueueEnvelope, LEDGER_RETENTION_DAYS } from '../store/records.js';
import { TOPICS } from '../topics.js';
import type { CommandRequest, LifecycleRequest } from './requests.js';

export interface CommandsDeps {
  store: StateStore;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  engine: Pick<Engine, 'approve' | 'abandon'>;
  deployments: Pick<DeploymentsConsumer, 'confirm'>;
  rollouts: Pick<Rollouts, 'start' | 'control' | 'startWorkflow' | 'approve'>;
  /** Read only: an instance's backups, for `mi backup list` (the ids `mi restore` takes). */
  cloudSql: Pick<CloudSqlPort, 'listBackupRuns'>;
  gkeBackup: Pick<GkeBackupPort, 'listBackups'>;
  /** Read only: a module apply's saved plan, for `mi apply show` (the plans buckets grant people nothing). */
  plans: PlanFilesPort;
  /**
   * The deployment repository: a command whose operation runs builds is accepted at a commit of
   * its protected branch (the head, or the one it names, checked to be on the branch). Without
   * it (a process given no repository) the builds run the branch as it is when they start.
   */
  repo?: Pick<DeploymentRepoPort, 'resolve' | 'ancestry'>;
  branch?: string;
}

/** The commands whose operations run the deployment repository's builds. */
const BUILD_COMMANDS: ReadonlySet<string> = new Set(['instance.create', 'instance.upgrade', 'instance.restore', 'instance.delete', 'instance.disaster-recovery']);

/** Why a command was not carried out; the HTTP answer's status follows from the code. */
export type RefusalCode = 'invalid-request' | 'not-found' | 'conflict' | 'self-approval' | 'event-id-taken';

export type CommandOutcome =
  | { kind: 'accepted'; command: CommandRequest['command']; by: string; answer: Record<string, unknown> }
  | { kind: 'refused'; code: RefusalCode; message: string };

/** What `commandRequests/{eventId}` keeps: who sent which command under that id. */
export interface CommandRequestRecord {
  eventId: string;
  command: string;
  instanceId: string | null;
  actor: string;
  subject: string;
  reason: string;
  receivedAt: string;
  expireAt: Date;
}

const refused = (code: RefusalCode, message: string): CommandOutcome => ({ kind: 'refused', code, message });

/** A refusal a service said with an error: what the caller got wrong, not a fault to retry. */
function refusalOf(error: unknown): CommandOutcome | undefined {
  if (!(error instanceof ControlPlaneError) || error.retryable) return undefined;
  if (error.code === 'not-found') return refused('not-found', error.message);
  if (error.code === 'failed-precondition') return refused('conflict', error.message);
  return undefined;
}

export function createCommands(deps: CommandsDeps) {
  /**
   * Writes the request's record, its audit entry and the envelope's outbox entry in one
   * transaction; the same caller sending the same request again is told the same, anyone else
   * reusing the id is refused.
   */
  async function sendOnce(envelope: AnyEnvelope, topic: string, caller: VerifiedCaller, answer: Record<string, unknown>): Promise<CommandOutcome> {
    const outcome = await deps.store.transaction(async (tx) => {
      const now = deps.clock.now();
      const path = paths.commandRequest(envelope.eventId);
      const seen = await tx.get<CommandRequestRecord>(path);
      if (seen !== undefined) {
        if (seen.actor === caller.email && seen.command === envelope.type && seen.instanceId === (envelope.instanceId ?? null)) return { again: true as const };
        return { taken: seen };
      }
      const record: CommandRequestRecord = {
        eventId: envelope.eventId,
        command: envelope.type,
        instanceId: envelope.instanceId ?? null,
        actor: caller.email,
        subject: caller.subject,
        reason: envelope.reason,
        receivedAt: now.toISOString(),
        expireAt: new Date(now.getTime() + LEDGER_RETENTION_DAYS * 86_400_000),
      };
      tx.create(path, record);
      appendAudit(
        tx,
        {
          actor: caller.email,
          origin: 'commands',
          action: 'command.received',
          instanceId: envelope.instanceId ?? null,
          operationId: envelope.type.startsWith('instance.') ? operationIdFor(envelope.eventId) : null,
          before: null,
          after: null,
          causeEventId: envelope.eventId,
          command: envelope.type,
          reason: envelope.reason,
          verifiedSubject: caller.subject,
        },
        now,
      );
      return { entries: [enqueueEnvelope(tx, topic, envelope, now)] };
    });
    if ('taken' in outcome) return refused('event-id-taken', `event id ${envelope.eventId} was already used for another request: choose a new one`);
    if ('entries' in outcome && outcome.entries !== undefined) await publishOutbox(deps, outcome.entries);
    return { kind: 'accepted', command: envelope.type as CommandRequest['command'], by: caller.email, answer: { ...answer, eventId: envelope.eventId, repeated: 'again' in outcome } };
  }

  function envelopeOf(build: () => AnyEnvelope): AnyEnvelope | CommandOutcome {
    try {
      return build();
    } catch (error) {
      if (error instanceof DecodeError) return refused('invalid-request', error.message);
      throw error;
    }
  }

  /** The protected branch's head (undefined without a repository), or a refusal when it has none. */
  async function headCommit(): Promise<string | undefined | CommandOutcome> {
    if (deps.repo === undefined) return undefined;
    const branch = deps.branch ?? 'main';
    try {
      return await deps.repo.resolve(branch);
    } catch (error) {
      if (error instanceof ControlPlaneError && error.code === 'not-found') return refused('invalid-request', `the deployment repository has no branch ${branch} (or no commit on it): nothing to build from`);
      throw error;
    }
  }

  /** The commit a command's builds run: the branch head, or the named one if the branch holds it; a refusal otherwise. */
  async function atCommit(request: LifecycleRequest): Promise<{ payload: Record<string, unknown> } | CommandOutcome> {
    const repo = deps.repo;
    if (repo === undefined || !BUILD_COMMANDS.has(request.command)) return { payload: request.payload };
    const branch = deps.branch ?? 'main';
    const named = request.payload.commit;
    if (named === undefined) {
      const head = await headCommit();
      return typeof head === 'string' ? { payload: { ...request.payload, commit: head } } : (head ?? { payload: request.payload });
    }
    if (typeof named !== 'string' || !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(named)) return refused('invalid-request', 'payload.commit: expected a full commit id: 40 (or 64) lowercase hex digits');
    let relation;
    try {
      relation = await repo.ancestry(named, branch);
    } catch (error) {
      if (error instanceof ControlPlaneError && error.code === 'not-found') return refused('invalid-request', `payload.commit: the deployment repository has no commit ${named}`);
      throw error;
    }
    // `ahead` or `identical`: the branch's head descends from (or is) the commit.
    if (relation !== 'ahead' && relation !== 'identical') {
      return refused('invalid-request', `payload.commit: ${named} is not on the protected branch ${branch} (${relation === 'behind' ? 'it is ahead of it' : 'it has diverged from it'}): only what the branch holds runs; merge it first`);
    }
    return { payload: request.payload };
  }

  async function lifecycle(request: LifecycleRequest, caller: VerifiedCaller): Promise<CommandOutcome> {
    // Only a fan-out's own tick names it: a person's command naming one would be refused when it halts, and read as its member's.
    if ('rolloutId' in request.payload) return refused('invalid-request', 'payload.rolloutId: a person\'s command is not part of a rollout or workflow; leave it out (mi rollout start, mi workflow run)');
    const at = await atCommit(request);
    if (!('payload' in at)) return at;
    const envelope = envelopeOf(
      () =>
        makeEnvelope({
          type: request.command,
          eventId: request.eventId,
          instanceId: request.instanceId,
          // Checked against the command's schema by makeEnvelope, which names the field at fault.
          payload: at.payload,
          actor: caller.email,
          reason: request.reason,
          origin: 'commands',
          issuedAt: deps.clock.now().toISOString(),
        }) as unknown as AnyEnvelope,
    );
    if (!('eventId' in envelope)) return envelope;
    return sendOnce(envelope, TOPICS.lifecycle, caller, { operationId: operationIdFor(envelope.eventId) });
  }

  /** An instance's Cloud SQL backup runs and GKE backups, newest first (one page of each). */
  async function listBackups(instanceId: string, limit: number, by: string): Promise<CommandOutcome> {
    const instance = await deps.store.get<InstanceRecord>(paths.instance(instanceId));
    if (instance === undefined) return refused('not-found', `no instance ${instanceId} (mi instance list shows the fleet)`);
    const { project, sqlInstance, backupPlan } = instance.resources;
    const [runs, backups] = await Promise.all([deps.cloudSql.listBackupRuns(project, sqlInstance, { maxResults: limit }), deps.gkeBackup.listBackups(backupPlan, { pageSize: limit })]);
    const newest = <T>(items: T[], at: (item: T) => string) => [...items].sort((a, b) => at(b).localeCompare(at(a))).slice(0, limit);
    return {
      kind: 'accepted',
      command: 'backup.list',
      by,
      answer: {
        instanceId,
        sql: newest(runs.items, (r) => r.enqueuedTime).map((r) => ({ id: r.id, type: r.type, status: r.status, enqueuedTime: r.enqueuedTime, endTime: r.endTime ?? null, description: r.description ?? null })),
        gke: newest(backups.items, (b) => b.createTime).map((b) => ({ name: b.name, state: b.state, manual: b.manual, createTime: b.createTime, completeTime: b.completeTime ?? null, retainExpireTime: b.retainExpireTime ?? null })),
      },
    };
  }

  /**
   * A module apply's saved plan as `terraform show` rendered it, read from where its plan build
   * saved it: only the object the record names for that instance, module and commit.
   */
  async function readPlan(id: string, by: string): Promise<CommandOutcome> {
    const apply = await deps.store.get<ModuleApplyRecord>(deploymentPaths.moduleApply(id));
    if (apply === undefined) return refused('not-found', `no module apply ${id} (mi apply list --all shows them)`);
    const object = apply.plan?.object;
    if (object === undefined) {
      return refused('not-found', `${id}: its plan run reported no saved plan (${apply.planSummary === null ? 'no plan has run yet' : 'it ran where plans are not saved'}): mi apply show prints what it recorded`);
    }
    if (!isPlanObjectOf(object, apply)) return refused('conflict', `${id}: the recorded plan ${object} is not where a plan of ${apply.instanceId}'s ${apply.module} at ${apply.commit} is saved: it is not read`);
    const url = planTextObjectOf(object);
    const found = await deps.plans.readText(url);
    if (found === undefined) return refused('not-found', `${id}: the saved plan ${url} is gone (plans are kept 30 days): a new plan needs a new commit of the module`);
    deps.log.info('a saved plan read for a person', { applyId: id, object: url, by, bytes: found.bytes });
    return { kind: 'accepted', command: 'apply.plan', by, answer: { applyId: id, object: url, digest: apply.plan?.digest ?? null, text: found.text, bytes: found.bytes, truncated: found.truncated } };
  }

  /** A break-glass grant reviewed after the fact, by someone other than its requester; once. */
  async function reviewBreakglass(grant: string, reason: string, caller: VerifiedCaller): Promise<CommandOutcome> {
    return deps.store.transaction(async (tx) => {
      const now = deps.clock.now();
      const path = compliancePaths.accessGrant(grant);
      const found = await tx.get<AccessGrantRecord>(path);
      if (found === undefined) return refused('not-found', `no grant ${grant} in the audit trail yet (the access review records grants every 15 minutes)`);
      if (!found.breakglass) return refused('conflict', `grant ${grant} is not break-glass: it was approved before it held, nothing to review`);
      if (found.requester === caller.email) return refused('self-approval', `${caller.email} requested grant ${grant} and cannot review it: someone else must`);
      if (found.reviewedBy !== null) return refused('conflict', `grant ${grant} was reviewed by ${found.reviewedBy}`);
      tx.update(path, { reviewedBy: caller.email, reviewedAt: now.toISOString(), reviewReason: reason });
      appendAudit(tx, { actor: caller.email, origin: 'commands', action: 'access.breakglass-reviewed', instanceId: null, operationId: null, before: null, after: { reviewedBy: caller.email }, causeEventId: null, grant: found.grant, requester: found.requester, reason, verifiedSubject: caller.subject }, now);
      return { kind: 'accepted' as const, command: 'access.review' as const, by: caller.email, answer: { reviewed: found.grant } };
    });
  }

  return {
    /** Carries out one validated request as `caller`. Throws only what is worth retrying. */
    async run(request: CommandRequest, caller: VerifiedCaller): Promise<CommandOutcome> {
      const by = caller.email;
      try {
        switch (request.command) {
          case 'operation.approve': {
            const result = await deps.engine.approve(request.operationId, caller);
            if (result.kind === 'refused') return refused(result.code === 'not-awaiting-approval' ? 'conflict' : result.code, result.message);
            return { kind: 'accepted', command: request.command, by, answer: { approved: result.operationId } };
          }
          case 'operation.abandon': {
            const abandoned = await deps.engine.abandon(request.operationId, by, request.reason);
            return { kind: 'accepted', command: request.command, by, answer: { abandoned: abandoned.id, instanceId: abandoned.instanceId, operationType: abandoned.type } };
          }
          case 'apply.confirm': {
            const target = request.applyId !== undefined ? { id: request.applyId } : { module: request.module ?? '', commit: request.commit ?? '' };
            const result = await deps.deployments.confirm(target, caller);
            if (result.kind === 'refused') return refused(result.code === 'not-found' ? 'not-found' : result.code === 'same-person' ? 'self-approval' : 'conflict', result.message);
            return { kind: 'accepted', command: request.command, by, answer: { confirmed: result.confirmed } };
          }
          case 'instance.extend': {
            const result = await extendExpiry(deps, { instanceId: request.instanceId, hours: request.hours, actor: by, reason: request.reason });
            return { kind: 'accepted', command: request.command, by, answer: { instanceId: request.instanceId, expiresAt: result.after, before: result.before } };
          }
          case 'rollout.start': {
            let waves;
            try {
              waves = request.waves === undefined ? DEFAULT_WAVES.map((w) => ({ ...w })) : parseWaves(request.waves);
            } catch (error) {
              if (error instanceof WaveSpecError) return refused('invalid-request', `waves: ${error.message}`);
              throw error;
            }
            // Every upgrade of the rollout runs the commit the branch held when it started.
            const head = await headCommit();
            if (typeof head !== 'string' && head !== undefined) return head;
            const result = await deps.rollouts.start({
              targetVersion: request.targetVersion,
              waves,
              actor: by,
              reason: request.reason,
              ...(request.busyRetryMs === undefined ? {} : { busyRetryMs: request.busyRetryMs }),
              ...(head === undefined ? {} : { commit: head }),
            });
            if (result.kind === 'refused') return refused('conflict', result.message);
            return { kind: 'accepted', command: request.command, by, answer: { rollout: result.rollout } };
          }
          case 'rollout.control': {
            const result = await deps.rollouts.control(request.rolloutId, request.action, by, request.reason);
            if (result.kind === 'refused') return refused(/^no rollout/.test(result.message) ? 'not-found' : 'conflict', result.message);
            return { kind: 'accepted', command: request.command, by, answer: { rollout: result.rollout, detail: result.detail } };
          }
          case 'workflow.start': {
            // A plan runs the commit the branch holds now; an apply, the one its plans were made at.
            const head = request.action === 'plan' ? await headCommit() : undefined;
            if (typeof head !== 'string' && head !== undefined) return head;
            const result = await deps.rollouts.startWorkflow({
              action: request.action,
              environment: request.environment,
              filter: request.filter ?? [],
              concurrency: request.concurrency,
              ...(request.budget === undefined ? {} : { budget: request.budget }),
              actor: by,
              reason: request.reason,
              ...(request.module === undefined ? {} : { module: request.module }),
              ...(request.plans === undefined ? {} : { plansOf: request.plans }),
              ...(head === undefined ? {} : { commit: head }),
            });
            if (result.kind === 'refused') return refused(/^no (plan )?workflow/.test(result.message) ? 'not-found' : 'invalid-request', result.message);
            return { kind: 'accepted', command: request.command, by, answer: { workflow: result.rollout } };
          }
          case 'workflow.approve': {
            const result = await deps.rollouts.approve(request.workflowId, by, request.reason);
            if (result.kind === 'self-approval') return refused('self-approval', result.message);
            if (result.kind === 'refused') return refused(/^no workflow/.test(result.message) ? 'not-found' : 'conflict', result.message);
            return { kind: 'accepted', command: request.command, by, answer: { workflow: result.rollout, detail: result.detail } };
          }
          case 'workflow.output': {
            const workflow = await deps.store.get<RolloutRecord>(rolloutPaths.rollout(request.workflowId));
            if (workflow?.kind !== 'workflow') return refused('not-found', `no workflow ${request.workflowId} (mi workflow status lists the latest)`);
            const page = await readWorkflowOutputs(deps, workflow, { limit: request.limit ?? 200, ...(request.after === undefined ? {} : { after: request.after }) });
            return { kind: 'accepted', command: request.command, by, answer: { workflowId: workflow.id, action: workflow.workflow?.action ?? null, status: workflow.status, ...page } };
          }
          case 'access.review':
            return await reviewBreakglass(request.grant, request.reason, caller);
          case 'apply.plan':
            return await readPlan(request.applyId, by);
          case 'backup.list':
            return await listBackups(request.instanceId, request.limit ?? 20, by);
          case 'compliance.run': {
            const envelope = makeEnvelope({
              type: 'compliance.run-requested',
              eventId: request.eventId,
              payload: { schedule: request.schedule },
              actor: by,
              reason: `mi compliance run ${request.schedule}`,
              origin: 'commands',
              issuedAt: deps.clock.now().toISOString(),
            }) as unknown as AnyEnvelope;
            return sendOnce(envelope, TOPICS.compliance, caller, { schedule: request.schedule });
          }
          default:
            return lifecycle(request, caller);
        }
      } catch (error) {
        const refusal = refusalOf(error);
        if (refusal !== undefined) return refusal;
        throw error;
      }
    },
  };
}

export type Commands = ReturnType<typeof createCommands>;
