/**
 * The `deployments` consumer: turns a merge on the deployment repository into work, every effect
 * keyed by merge commit, instance and module. A spec change (config.yaml read at the merge
 * commit, validated by the instance schema) becomes `instance.create` or `instance.upgrade`, at
 * once or, when the instance is leased, when the lease frees (`specChanges/{instanceId}`, the
 * newest change by ancestry winning); a removed instance folder (absent at the merge commit,
 * present at the push's `before`) a delete waiting for confirmation; a module change a `moduleApplies`
 * document: auto-apply modules apply by themselves, in waves (dev, internal, customers); other
 * modules run a plan first and wait for a person's confirmation. Plans and applies are leased
 * operations (`instance.module-apply`), accepted by the engine like any lifecycle command.
 */
import { parseDocument } from 'yaml';
import { changeEventId, classifyFiles, type InstanceChange } from '../domain/deployments/changes.js';
import {
  ACTIVE_APPLY_STATUSES,
  DEFAULT_AUTO_APPLY_MODULES,
  INSTANCE_DELETE_MODULE,
  applyModeOf,
  moduleApplyId,
  planGroup,
  supersession,
  waveOf,
  type ApplyAction,
  type ModuleApplyRecord,
} from '../domain/deployments/applies.js';
import { configPathOf } from '../domain/deployments/paths.js';
import { decideConfigChange, type FileAt } from '../domain/deployments/spec-changes.js';
import type { OperationRecord } from '../domain/lifecycle/operations.js';
import { sideEffectKey } from '../domain/lifecycle/operations.js';
import { publishOutbox } from '../store/outbox.js';
import { appendAudit, recordInLedger, type LedgerEntry, type OutboxEntry } from '../store/records.js';
import { ControlPlaneError, describeError } from '../errors.js';
import { instanceSpecSchema, issueToDecodeError, type Envelope, type InstanceRecord, type InstanceSpec } from '../events/index.js';
import { silentLogger, type Logger } from '../log.js';
import type { Clock, DeploymentRepoPort, ExecutorPort, StateStore, StoreTransaction, EventBus, VerifiedCaller } from '../ports.js';
import { queueCommand, REPUBLISH_AFTER_MS } from './commands.js';
import { markDeliveryHandled } from '../webhook/deliveries.js';
import { createSpecChanges, type OfferOutcome } from './spec-changes.js';
import { COLLECTIONS, deploymentPaths, paths } from '../store/collections.js';


/** The schedule whose ticks (on mi-deployments) move module applies on. */
export const DEPLOYMENTS_SCHEDULE = 'deployments';

/** Busy answers tolerated per module apply before it is recorded as failed. */
const MAX_ATTEMPTS = 50;

export interface DeploymentsDeps {
  store: StateStore;
  bus: EventBus;
  repo: DeploymentRepoPort;
  /** For the plan summaries: the executor's detail of a finished plan run. */
  executor: Pick<ExecutorPort, 'getRunStatus'>;
  clock: Clock;
  log?: Logger;
  autoApplyModules?: readonly string[];
}

type Push = Envelope<'deployment.pushed'>;
type HandledPush = Extract<PushOutcome, { kind: 'handled' }>;

/** Git's id for "no commit" (the `before` of a branch's first push). */
const ZERO_COMMIT = /^0+$/;

export type PushOutcome =
  | { kind: 'duplicate' }
  | {
      kind: 'handled';
      source: 'payload' | 'compare';
      commands: Array<{ instanceId: string; type: string; eventId: string }>;
      invalid: Array<{ instanceId: string; file: string; field: string | null; reason: string }>;
      applies: string[];
      /** Instances whose spec change waits for their lease (kept in specChanges; the tick applies it when the lease frees). */
      waiting: string[];
      /** Spec changes older by ancestry than the one recorded for their instance: not applied (recorded in the audit). */
      superseded: Array<{ instanceId: string; newer: string }>;
      /** Changes that need nothing done, and why (a removal of a file that was not there). */
      ignored: Array<{ instanceId: string; reason: string }>;
    };

export type ConfirmOutcome =
  | { kind: 'confirmed'; confirmed: string[]; by: string }
  | { kind: 'refused'; code: 'not-found' | 'not-awaiting-confirmation'; message: string };

/** Parses config.yaml; the file and the field at fault when it is not a valid spec of this folder. */
export function parseConfig(text: string, where: { environment: string; instanceId: string }): { spec: InstanceSpec } | { field: string | null; reason: string } {
  const document = parseDocument(text, { prettyErrors: false });
  if (document.errors.length > 0) return { field: null, reason: `not YAML: ${document.errors[0]?.message ?? 'parse error'}` };
  const parsed = instanceSpecSchema.safeParse(document.toJS(), { reportInput: true });
  if (!parsed.success) {
    const error = issueToDecodeError('payload', parsed.error, []);
    return { field: error.field ?? null, reason: error.message };
  }
  if (parsed.data.id !== where.instanceId) return { field: 'id', reason: `id: expected the folder's instance id ${where.instanceId}, got ${parsed.data.id}` };
  if (parsed.data.environment !== where.environment) {
    return { field: 'environment', reason: `environment: expected ${where.environment} (the folder it is in), got ${parsed.data.environment}` };
  }
  return { spec: parsed.data };
}

/** Wires the consumer to its ports. */
export function createDeploymentsConsumer(deps: DeploymentsDeps) {
  const log = deps.log ?? silentLogger;
  const autoApply = deps.autoApplyModules ?? DEFAULT_AUTO_APPLY_MODULES;
  const publish = (entries: readonly OutboxEntry[]) => publishOutbox({ ...deps, log }, entries);
  const specChanges = createSpecChanges({ store: deps.store, repo: deps.repo, clock: deps.clock, log, publish });

  /** The files changed between two commits; an unknown commit is retryable (the repository may not have it yet). */
  async function compareCommits(before: string, after: string) {
    try {
      return await deps.repo.compare(before, after);
    } catch (error) {
      if (error instanceof ControlPlaneError && error.code === 'not-found') {
        throw new ControlPlaneError('not-found', `comparing ${before}...${after}: a commit is not in the deployment repository (yet); the push is tried again`, { cause: error, retryable: true });
      }
      throw error;
    }
  }

  /** The event id to ask under for one change: the first attempt the engine has not answered busy. */
  async function currentAttempt(commit: string, instanceId: string, subject: string): Promise<{ eventId: string; attempt: number; answered?: LedgerEntry }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const eventId = changeEventId(commit, instanceId, subject, attempt);
      const answered = await deps.store.get<LedgerEntry>(paths.ledger(eventId));
      if (answered === undefined) return { eventId, attempt };
      if (answered.code !== 'busy') return { eventId, attempt, answered };
    }
    const eventId = changeEventId(commit, instanceId, subject, MAX_ATTEMPTS);
    return { eventId, attempt: MAX_ATTEMPTS, answered: { outcome: 'rejected', code: 'busy', reason: `busy ${MAX_ATTEMPTS} times`, eventType: null, operationId: null, field: null, messageId: '', recordedAt: '', expireAt: new Date(0) } };
  }

  /** config.yaml at one commit; an unknown commit is said so, never read as an absent file. */
  async function fileAt(path: string, commit: string): Promise<FileAt> {
    if (ZERO_COMMIT.test(commit)) return { state: 'absent' }; // before a branch's first push there is nothing
    try {
      const text = await deps.repo.readFile(path, commit);
      return text === undefined ? { state: 'absent' } : { state: 'present', text };
    } catch (error) {
      if (error instanceof ControlPlaneError && error.code === 'not-found') return { state: 'unknown-commit', commit };
      throw error;
    }
  }

  /** Records once per commit and instance, in the ledger under the change's event id and in the audit trail, that config.yaml was refused. */
  async function recordInvalid(push: Push, change: InstanceChange, file: string, problem: { field: string | null; reason: string }, result: HandledPush): Promise<void> {
    const { after } = push.payload;
    const eventId = changeEventId(after, change.instanceId, 'config', 0);
    const now = deps.clock.now();
    await deps.store.transaction(async (tx) => {
      if ((await tx.get(paths.ledger(eventId))) !== undefined) return;
      recordInLedger(tx, eventId, { outcome: 'invalid', eventType: 'deployment.pushed', operationId: null, code: 'invalid', reason: problem.reason, field: problem.field, messageId: push.eventId, file, commit: after }, now);
      appendAudit(
        tx,
        { actor: push.actor, action: 'deployment.config-invalid', instanceId: change.instanceId, operationId: null, before: null, after: null, causeEventId: push.eventId, file, field: problem.field, reason: problem.reason, commit: after },
        now,
      );
    });
    result.invalid.push({ instanceId: change.instanceId, file, field: problem.field, reason: problem.reason });
  }

  /** A change that needs nothing done, recorded once per commit and instance. */
  async function recordIgnored(push: Push, change: InstanceChange, file: string, reason: string, result: HandledPush): Promise<void> {
    const { after } = push.payload;
    const eventId = changeEventId(after, change.instanceId, 'config-ignored', 0);
    const now = deps.clock.now();
    await deps.store.transaction(async (tx) => {
      if ((await tx.get(paths.ledger(eventId))) !== undefined) return;
      recordInLedger(tx, eventId, { outcome: 'rejected', eventType: 'deployment.pushed', operationId: null, code: 'ignored', reason, field: null, messageId: push.eventId, file, commit: after }, now);
      appendAudit(tx, { actor: push.actor, action: 'deployment.change-ignored', instanceId: change.instanceId, operationId: null, before: null, after: null, causeEventId: push.eventId, file, reason, commit: after }, now);
    });
    result.ignored.push({ instanceId: change.instanceId, reason });
  }

  function noteOffer(outcome: OfferOutcome, instanceId: string, result: HandledPush): void {
    if (outcome.kind === 'asked') result.commands.push({ instanceId, type: outcome.type, eventId: outcome.eventId });
    else if (outcome.kind === 'waiting') result.waiting.push(instanceId);
    else if (outcome.kind === 'older') result.superseded.push({ instanceId, newer: outcome.newer });
    else if (outcome.kind === 'unchanged') log.info('config.yaml changed without a version change: no lifecycle event', { instanceId, reason: outcome.reason });
  }

  /**
   * A change of config.yaml: read at the merge commit (and, for a removal, at `before`), then a
   * spec change, a removal, or a record of why neither. An unknown commit throws, retryable.
   */
  async function configChange(push: Push, change: InstanceChange & { config: 'changed' | 'removed' }, instance: InstanceRecord | undefined, newer: ReturnType<typeof specChanges.newerThan>, result: HandledPush): Promise<void> {
    const { after, before } = push.payload;
    const file = configPathOf(change.environment, change.instanceId);
    const atAfter = await fileAt(file, after);
    let decision = decideConfigChange(change.config, atAfter);
    if (decision.kind === 'read-before') decision = decideConfigChange(change.config, atAfter, await fileAt(file, before));
    const incoming = { push, instanceId: change.instanceId, environment: change.environment, file };
    switch (decision.kind) {
      case 'read-before':
        throw new ControlPlaneError('internal', `deciding ${file} at ${after}: the before commit was read and still asked for`, { retryable: false });
      case 'retry':
        throw new ControlPlaneError('not-found', `${decision.reason}; the push is tried again (nothing is planned from a file that could not be read)`, { retryable: true, details: { file, after, before } });
      case 'ignore':
        await recordIgnored(push, change, file, decision.reason, result);
        return;
      case 'refuse':
        await recordInvalid(push, change, file, { field: null, reason: decision.reason }, result);
        noteOffer(await specChanges.offer({ ...incoming, spec: null, reason: decision.reason }, newer), change.instanceId, result);
        return;
      case 'removed': {
        const offered = await specChanges.offer({ ...incoming, spec: null, reason: 'the instance folder was removed' }, newer);
        noteOffer(offered, change.instanceId, result);
        // A removal older than a change recorded since (the folder came back) is not planned.
        if (offered.kind !== 'older') await instanceRemoved(push, change, instance, result);
        return;
      }
      case 'spec': {
        const parsed = parseConfig(decision.text, change);
        if ('reason' in parsed) {
          await recordInvalid(push, change, file, parsed, result);
          noteOffer(await specChanges.offer({ ...incoming, spec: null, reason: `invalid config.yaml: ${parsed.reason}` }, newer), change.instanceId, result);
          return;
        }
        noteOffer(await specChanges.offer({ ...incoming, spec: parsed.spec }, newer), change.instanceId, result);
        return;
      }
    }
  }

  function newApply(push: Push, instance: Pick<InstanceRecord, 'id' | 'environment' | 'tier'>, module: string, now: Date): ModuleApplyRecord {
    const { after, committedAt, repository, mergedBy } = push.payload;
    const kind = module === INSTANCE_DELETE_MODULE ? 'instance-delete' : 'module';
    const mode = kind === 'instance-delete' ? 'confirm' : applyModeOf(module, autoApply);
    return {
      id: moduleApplyId(instance.id, module, after),
      kind,
      instanceId: instance.id,
      environment: instance.environment,
      tier: instance.tier,
      module,
      commit: after,
      committedAt,
      repository,
      mode,
      wave: waveOf(instance),
      status: kind === 'instance-delete' ? 'awaiting-confirmation' : mode === 'auto' ? 'waiting' : 'planning',
      request: null,
      operationId: null,
      planSummary: kind === 'instance-delete' ? `delete instance ${instance.id}: its folder was removed` : null,
      confirmedBy: null,
      confirmedAt: null,
      supersededBy: null,
      failure: null,
      causeEventId: push.eventId,
      mergedBy,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
  }

  /** Creates the apply (once per instance, module and commit), superseding unconfirmed older ones; a plan is asked for at once. */
  async function recordApply(push: Push, instance: InstanceRecord, module: string): Promise<string> {
    const now = deps.clock.now();
    const apply = newApply(push, instance, module, now);
    const planAttempt = apply.status === 'planning' ? await currentAttempt(apply.commit, apply.instanceId, `${module}:plan`) : undefined;
    const outbox = await deps.store.transaction(async (tx) => {
      if ((await tx.get(deploymentPaths.moduleApply(apply.id))) !== undefined) return [];
      const others = await tx.query<ModuleApplyRecord>({
        collection: COLLECTIONS.moduleApplies,
        where: [
          { field: 'instanceId', op: '==', value: apply.instanceId },
          { field: 'module', op: '==', value: module },
        ],
      });
      const decided = supersession(apply, others.map((o) => o.data));
      const record: ModuleApplyRecord = decided.supersededBy === null ? apply : { ...apply, status: 'superseded', supersededBy: decided.supersededBy };
      const entries: OutboxEntry[] = [];
      if (record.status === 'planning' && planAttempt !== undefined) {
        record.request = { eventId: planAttempt.eventId, action: 'plan', attempt: planAttempt.attempt, at: now.toISOString() };
        entries.push(moduleCommand(tx, record, 'plan', planAttempt.eventId, push.actor, now));
      }
      tx.create(deploymentPaths.moduleApply(record.id), { ...record });
      for (const id of decided.supersede) {
        tx.update(deploymentPaths.moduleApply(id), { status: 'superseded', supersededBy: record.id, updatedAt: now.toISOString() });
      }
      appendAudit(
        tx,
        {
          actor: push.actor,
          action: 'module-apply.recorded',
          instanceId: record.instanceId,
          operationId: null,
          before: null,
          after: { status: record.status, mode: record.mode, wave: record.wave },
          causeEventId: push.eventId,
          applyId: record.id,
          module,
          commit: record.commit,
          superseded: decided.supersede,
        },
        now,
      );
      return entries;
    });
    await publish(outbox);
    return apply.id;
  }

  function moduleCommand(tx: StoreTransaction, apply: ModuleApplyRecord, action: ApplyAction, eventId: string, actor: string, now: Date): OutboxEntry {
    const reason = `${action} of ${apply.module === INSTANCE_DELETE_MODULE ? 'the instance' : `module ${apply.module}`} at ${apply.commit.slice(0, 12)} (${apply.id})`;
    if (action === 'delete') {
      return queueCommand(tx, { type: 'instance.delete', eventId, instanceId: apply.instanceId, payload: { confirmSlug: apply.confirmSlug ?? '' }, actor, reason }, now);
    }
    return queueCommand(
      tx,
      { type: 'instance.module-apply', eventId, instanceId: apply.instanceId, payload: { module: apply.module, commit: apply.commit, action, applyId: apply.id }, actor, reason },
      now,
    );
  }

  async function instanceRemoved(push: Push, change: InstanceChange, instance: InstanceRecord | undefined, result: Extract<PushOutcome, { kind: 'handled' }>): Promise<void> {
    if (instance === undefined || instance.status === 'deleted') {
      log.info('an instance folder was removed for an instance that does not exist', { instanceId: change.instanceId });
      return;
    }
    result.applies.push(await recordApply(push, instance, INSTANCE_DELETE_MODULE));
  }

  /** Starts the applies whose wave may go, halts what an earlier failure stops. */
  async function advanceGroup(module: string, commit: string): Promise<void> {
    const group = await deps.store.query<ModuleApplyRecord>({
      collection: COLLECTIONS.moduleApplies,
      where: [
        { field: 'module', op: '==', value: module },
        { field: 'commit', op: '==', value: commit },
      ],
    });
    const decisions = planGroup(group.map((d) => d.data));
    for (const decision of decisions) {
      const apply = group.find((d) => d.id === decision.id)?.data;
      if (apply === undefined) continue;
      const attempt = decision.action === 'start-apply' ? await currentAttempt(apply.commit, apply.instanceId, `${apply.module}:apply`) : undefined;
      const outbox = await deps.store.transaction(async (tx) => {
        const now = deps.clock.now();
        const current = await tx.get<ModuleApplyRecord>(deploymentPaths.moduleApply(decision.id));
        if (current === undefined) return [];
        if (decision.action === 'halt') {
          if (!['waiting', 'confirmed', 'awaiting-confirmation', 'planning'].includes(current.status)) return [];
          tx.update(deploymentPaths.moduleApply(current.id), { status: 'halted', failure: decision.reason, updatedAt: now.toISOString() });
          appendAudit(tx, { actor: 'system:deployments', action: 'module-apply.halted', instanceId: current.instanceId, operationId: null, before: { status: current.status }, after: { status: 'halted' }, causeEventId: current.causeEventId, applyId: current.id, reason: decision.reason }, now);
          return [];
        }
        if ((current.status !== 'waiting' && current.status !== 'confirmed') || attempt === undefined) return [];
        const request = { eventId: attempt.eventId, action: 'apply' as const, attempt: attempt.attempt, at: now.toISOString() };
        tx.update(deploymentPaths.moduleApply(current.id), { status: 'applying', request, operationId: null, updatedAt: now.toISOString() });
        appendAudit(tx, { actor: current.confirmedBy ?? 'system:deployments', action: 'module-apply.started', instanceId: current.instanceId, operationId: null, before: { status: current.status }, after: { status: 'applying' }, causeEventId: current.causeEventId, applyId: current.id, wave: current.wave }, now);
        return [moduleCommand(tx, current, 'apply', attempt.eventId, current.confirmedBy ?? `github:${current.mergedBy}`, now)];
      });
      await publish(outbox);
    }
  }

  /** Moves one asked-for or running apply on from what the engine and the executor say. */
  async function syncApply(apply: ModuleApplyRecord): Promise<void> {
    const now = deps.clock.now();
    let change: Partial<ModuleApplyRecord> | undefined;
    let retry: { eventId: string; attempt: number } | undefined;
    if (apply.request !== null && apply.operationId === null) {
      const answered = await deps.store.get<LedgerEntry>(paths.ledger(apply.request.eventId));
      if (answered === undefined) {
        if (now.getTime() - Date.parse(apply.request.at) < REPUBLISH_AFTER_MS) return;
        retry = { eventId: apply.request.eventId, attempt: apply.request.attempt };
      } else if (answered.outcome === 'accepted' && answered.operationId !== null) {
        change = { operationId: answered.operationId };
      } else if (answered.code === 'busy' && apply.request.attempt + 1 < MAX_ATTEMPTS) {
        // Busy is never a failure: ask again under the next attempt's id.
        const subject = `${apply.module}:${apply.request.action}`;
        retry = { eventId: changeEventId(apply.commit, apply.instanceId, subject, apply.request.attempt + 1), attempt: apply.request.attempt + 1 };
      } else {
        change = { status: 'failed', failure: `the engine refused the ${apply.request.action}: ${answered.code ?? answered.outcome}: ${answered.reason ?? ''}` };
      }
    }
    const operationId = change?.operationId ?? apply.operationId;
    if (operationId !== null && operationId !== undefined && change?.status === undefined) {
      const op = await deps.store.get<OperationRecord>(paths.operation(operationId));
      if (op?.status === 'succeeded') {
        if (apply.status === 'planning') {
          const step = op.steps.find((s) => s.kind === 'executor-run');
          const runKey = step?.handles.runKey ?? sideEffectKey(op.id, step?.name ?? 'plan');
          const status = await deps.executor.getRunStatus(runKey).catch((error: unknown) => ({ state: 'unknown' as const, detail: `plan summary unavailable: ${describeError(error)}` }));
          change = { ...change, status: 'awaiting-confirmation', planSummary: status.detail ?? 'plan succeeded (no summary)' };
        } else {
          change = { ...change, status: 'applied' };
        }
      } else if (op?.status === 'failed' || op?.status === 'abandoned') {
        change = { ...change, status: 'failed', failure: op.failure?.reason ?? op.abandoned?.why ?? op.status };
      }
    }
    if (change === undefined && retry === undefined) return;
    const outbox = await deps.store.transaction(async (tx) => {
      const current = await tx.get<ModuleApplyRecord>(deploymentPaths.moduleApply(apply.id));
      if (current === undefined || current.status !== apply.status || current.request?.eventId !== apply.request?.eventId) return [];
      const entries: OutboxEntry[] = [];
      const update: Partial<ModuleApplyRecord> = { ...change, updatedAt: now.toISOString() };
      if (retry !== undefined && current.request !== null) {
        update.request = { ...current.request, eventId: retry.eventId, attempt: retry.attempt, at: now.toISOString() };
        entries.push(moduleCommand(tx, current, current.request.action, retry.eventId, current.confirmedBy ?? `github:${current.mergedBy}`, now));
      }
      tx.update(deploymentPaths.moduleApply(apply.id), update);
      if (update.status !== undefined && update.status !== current.status) {
        appendAudit(tx, { actor: 'system:deployments', action: `module-apply.${update.status}`, instanceId: current.instanceId, operationId: operationId ?? null, before: { status: current.status }, after: { status: update.status, planSummary: update.planSummary ?? null, failure: update.failure ?? null }, causeEventId: current.causeEventId, applyId: current.id }, now);
      }
      return entries;
    });
    await publish(outbox);
  }

  const consumer = {
    /** Its ports, as the Pub/Sub edge records through them. */
    deps: { store: deps.store, bus: deps.bus, clock: deps.clock, log },
    /** A `deployment.pushed` message: every change of the merge, keyed by commit, instance and module. */
    async handlePush(push: Push): Promise<PushOutcome> {
      const { changes, before, after, deliveryId } = push.payload;
      if ((await deps.store.get(paths.ledger(push.eventId))) !== undefined) {
        // Handled before (maybe under another delivery): this delivery is done too.
        await deps.store.transaction(async (tx) => (await markDeliveryHandled(tx, deliveryId, push.eventId, deps.clock.now()))());
        return { kind: 'duplicate' };
      }
      const instances = changes.source === 'payload' ? changes.instances : classifyFiles((await compareCommits(before, after)).files).instances;
      const result: HandledPush = { kind: 'handled', source: changes.source, commands: [], invalid: [], applies: [], waiting: [], superseded: [], ignored: [] };
      const newer = specChanges.newerThan(push);
      for (const change of instances) {
        const instance = await deps.store.get<InstanceRecord>(paths.instance(change.instanceId));
        if (change.config !== null) await configChange(push, { ...change, config: change.config }, instance, newer, result);
        if (change.modules.length === 0) continue;
        if (instance === undefined || instance.status === 'deleted') {
          log.warn('module change for an instance the control plane does not run: nothing applied', { instanceId: change.instanceId, modules: change.modules });
          continue;
        }
        for (const module of change.modules) result.applies.push(await recordApply(push, instance, module));
      }
      const groups = new Set(instances.flatMap((c) => c.modules));
      for (const module of groups) await advanceGroup(module, after);
      // Everything of the push is recorded (waiting spec changes included): the push, and the delivery that brought it, are handled.
      await deps.store.transaction(async (tx) => {
        if ((await tx.get(paths.ledger(push.eventId))) !== undefined) return;
        const now = deps.clock.now();
        const markDelivery = await markDeliveryHandled(tx, deliveryId, push.eventId, now);
        recordInLedger(
          tx,
          push.eventId,
          { outcome: 'accepted', eventType: push.type, operationId: null, code: null, reason: null, field: null, messageId: deliveryId, commit: after, source: changes.source, applies: result.applies.length, commands: result.commands.length, invalid: result.invalid.length, waiting: result.waiting.length },
          now,
        );
        markDelivery();
      });
      return result;
    },

    /** The schedule's tick: sync what runs, start the next waves, halt what a failure stops, start spec changes whose lease freed. */
    async tick(options: { limit?: number } = {}): Promise<{ synced: number; groups: number; specChanges: { active: number; moved: number } }> {
      const active = await deps.store.query<ModuleApplyRecord>({
        collection: COLLECTIONS.moduleApplies,
        where: [{ field: 'status', op: 'in', value: ACTIVE_APPLY_STATUSES }],
        limit: options.limit ?? 500,
      });
      let synced = 0;
      for (const doc of active) {
        // Only what was asked of the engine moves on here; a plan awaiting confirmation waits for a person.
        if (doc.data.request === null || (doc.data.status !== 'planning' && doc.data.status !== 'applying')) continue;
        try {
          await syncApply(doc.data);
          synced += 1;
        } catch (error) {
          log.warn('could not sync a module apply; the next tick will', { applyId: doc.id, error: describeError(error) });
        }
      }
      const groups = new Set(active.filter((d) => d.data.kind === 'module').map((d) => `${d.data.module}\n${d.data.commit}`));
      for (const group of groups) {
        const [module = '', commit = ''] = group.split('\n');
        await advanceGroup(module, commit);
      }
      // Spec changes that wait for a lease, or for the engine's answer.
      return { synced, groups: groups.size, specChanges: await specChanges.sync(options) };
    },

    /**
     * A person confirms a plan (or a delete), by apply id or for every instance of one module
     * at one commit. `caller` comes from a verified ID token; it is recorded on each apply.
     */
    async confirm(target: { id: string } | { module: string; commit: string }, caller: VerifiedCaller): Promise<ConfirmOutcome> {
      let candidates: ModuleApplyRecord[];
      if ('id' in target) {
        const one = await deps.store.get<ModuleApplyRecord>(deploymentPaths.moduleApply(target.id));
        if (one === undefined) return { kind: 'refused', code: 'not-found', message: `no module apply ${target.id}` };
        candidates = [one];
      } else {
        const docs = await deps.store.query<ModuleApplyRecord>({ collection: COLLECTIONS.moduleApplies, where: [{ field: 'module', op: '==', value: target.module }] });
        candidates = docs.map((d) => d.data).filter((d) => d.commit.startsWith(target.commit));
        if (candidates.length === 0) return { kind: 'refused', code: 'not-found', message: `no module apply of ${target.module} at ${target.commit}` };
      }
      const waiting = candidates.filter((c) => c.status === 'awaiting-confirmation');
      if (waiting.length === 0) {
        return { kind: 'refused', code: 'not-awaiting-confirmation', message: `nothing waits for confirmation there (${candidates.map((c) => `${c.id}: ${c.status}`).join(', ')})` };
      }
      const confirmed: string[] = [];
      for (const apply of waiting) {
        const deleteAttempt = apply.kind === 'instance-delete' ? await currentAttempt(apply.commit, apply.instanceId, 'delete') : undefined;
        const outbox = await deps.store.transaction(async (tx) => {
          const now = deps.clock.now();
          const current = await tx.get<ModuleApplyRecord>(deploymentPaths.moduleApply(apply.id));
          const instance = apply.kind === 'instance-delete' ? await tx.get<InstanceRecord>(paths.instance(apply.instanceId)) : undefined;
          if (current?.status !== 'awaiting-confirmation') return undefined;
          const by = { confirmedBy: caller.email, confirmedAt: now.toISOString(), updatedAt: now.toISOString() };
          appendAudit(tx, { actor: caller.email, action: 'module-apply.confirmed', instanceId: current.instanceId, operationId: null, before: { status: current.status }, after: { status: 'confirmed' }, causeEventId: current.causeEventId, applyId: current.id, verifiedSubject: caller.subject, planSummary: current.planSummary }, now);
          if (current.kind === 'instance-delete' && deleteAttempt !== undefined) {
            const request = { eventId: deleteAttempt.eventId, action: 'delete' as const, attempt: deleteAttempt.attempt, at: now.toISOString() };
            const withSlug = { ...current, ...by, confirmSlug: instance?.slug ?? '' };
            tx.update(deploymentPaths.moduleApply(current.id), { ...by, confirmSlug: withSlug.confirmSlug, status: 'applying', request });
            return [moduleCommand(tx, withSlug, 'delete', deleteAttempt.eventId, caller.email, now)];
          }
          tx.update(deploymentPaths.moduleApply(current.id), { ...by, status: 'confirmed' });
          return [];
        });
        if (outbox === undefined) continue;
        await publish(outbox);
        confirmed.push(apply.id);
      }
      for (const group of new Set(waiting.filter((w) => w.kind === 'module').map((w) => `${w.module}\n${w.commit}`))) {
        const [module = '', commit = ''] = group.split('\n');
        await advanceGroup(module, commit);
      }
      return { kind: 'confirmed', confirmed, by: caller.email };
    },
  };
  return consumer;
}

export type DeploymentsConsumer = ReturnType<typeof createDeploymentsConsumer>;
