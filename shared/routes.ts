/**
 * How each function fed by a topic takes its messages: the event types it accepts and the
 * service method each goes to, or the schedule whose ticks it runs. The Pub/Sub edge
 * (shared/edge.ts) does the rest, the same for every function.
 */
import type { Compliance } from './compliance/index.js';
import type { DeploymentsConsumer } from './deployments/index.js';
import type { MessageRoute } from './edge.js';
import { isFinalBuildStatus, RUN_STATE_OF_BUILD, runNoticeKey } from './domain/executor/index.js';
import type { Engine } from './engine/index.js';
import { readBuildNotification } from './gcp/cloud-build-notifications.js';
import { FACT_TYPES, LIFECYCLE_COMMANDS, type Envelope } from './events/index.js';
import type { Rollouts } from './rollout/index.js';
import type { Notifier, NotifyOutcome } from './notify/index.js';
import type { Services } from './services.js';
import type { FUNCTIONS } from './topology.js';

export const lifecycleRoute = (engine: Engine) =>
  ({ function: 'lifecycle', accepts: LIFECYCLE_COMMANDS, onEnvelope: (envelope, message) => engine.accept(envelope, message) }) satisfies MessageRoute<unknown>;

export const executorResultsRoute = (engine: Engine) =>
  ({
    function: 'executorResults',
    accepts: ['executor.run-finished'],
    onEnvelope: (envelope, message) => engine.recordResult(envelope as Envelope<'executor.run-finished'>, message),
  }) satisfies MessageRoute<unknown>;

/** Cloud Build's notifications (all builds of the project): ours are recorded by the executor's word, others ignored. */
export const buildNotificationsRoute = (engine: Engine) =>
  ({
    function: 'buildNotifications',
    accepts: [],
    onForeignMessage: async (data, message) => {
      const notice = readBuildNotification(data, message);
      // Every build of the project is notified here; another's is no concern of ours (and no ledger write).
      if (notice.kind === 'foreign') return { kind: 'ignored' as const, reason: notice.reason };
      return engine.recordRunNotice({ runKey: notice.runKey, runId: notice.buildId, action: notice.action, claimed: notice.status, final: isFinalBuildStatus(notice.status) }, message);
    },
    foreignLedgerKey: (data, message) => {
      try {
        const notice = readBuildNotification(data, message);
        return notice.kind === 'ours' && isFinalBuildStatus(notice.status) ? runNoticeKey(notice.buildId, RUN_STATE_OF_BUILD[notice.status]) : undefined;
      } catch {
        // Undecodable: recorded under the message id.
        return undefined;
      }
    },
  }) satisfies MessageRoute<unknown>;

export const reconcileRoute = (engine: Engine) => ({ function: 'reconcile', accepts: [], onSchedule: () => engine.reconcile() }) satisfies MessageRoute<unknown>;

export const complianceScheduleRoute = (compliance: Compliance): MessageRoute<Awaited<ReturnType<Compliance['runScheduled']>>> =>
  ({
    function: 'complianceSchedule',
    // `mi compliance run` asks for a run of its own; the scheduler's jobs tick their slot.
    accepts: ['compliance.run-requested'],
    onEnvelope: (envelope, message) => compliance.runRequested(envelope as Envelope<'compliance.run-requested'>, message),
    onSchedule: (schedule, message) => compliance.runScheduled(schedule, message),
  }) satisfies MessageRoute<unknown>;

export const complianceCheckRoute = (compliance: Compliance) =>
  ({ function: 'complianceCheck', accepts: ['compliance.check'], onEnvelope: (envelope) => compliance.check(envelope as Envelope<'compliance.check'>) }) satisfies MessageRoute<unknown>;

export const rolloutRoute = (rollouts: Rollouts): MessageRoute<Awaited<ReturnType<Rollouts['tickAll']>>> =>
  ({
    function: 'rollout',
    accepts: ['rollout.tick'],
    onEnvelope: (envelope) => rollouts.onTick(envelope as Envelope<'rollout.tick'>),
    onSchedule: () => rollouts.tickAll(),
  }) satisfies MessageRoute<unknown>;

export const rolloutEventsRoute = (rollouts: Rollouts) =>
  ({ function: 'rolloutEvents', accepts: FACT_TYPES, onEnvelope: (envelope) => rollouts.recordFact(envelope) }) satisfies MessageRoute<unknown>;

/** What the deployments function did with a message: a push handled, or the schedule's tick. */
export type DeploymentsOutcome =
  | { kind: 'push'; detail: Awaited<ReturnType<DeploymentsConsumer['handlePush']>> }
  | { kind: 'write-back'; detail: Awaited<ReturnType<DeploymentsConsumer['handleWriteBack']>> }
  | { kind: 'tick'; detail: Awaited<ReturnType<DeploymentsConsumer['tick']>> };

export const deploymentsRoute = (consumer: DeploymentsConsumer): MessageRoute<DeploymentsOutcome> =>
  ({
    function: 'deployments',
    accepts: ['deployment.pushed', 'deployment.write-back'],
    onEnvelope: async (envelope): Promise<DeploymentsOutcome> =>
      envelope.type === 'deployment.write-back'
        ? { kind: 'write-back', detail: await consumer.handleWriteBack(envelope) }
        : { kind: 'push', detail: await consumer.handlePush(envelope as Envelope<'deployment.pushed'>) },
    onSchedule: async () => ({ kind: 'tick' as const, detail: await consumer.tick() }),
  }) satisfies MessageRoute<unknown>;

/** `mi-events`: each fact that needs a person told once; the digests' schedule sends what was held above the rate. */
export const notifyRoute = (notifier: Notifier): MessageRoute<NotifyOutcome | Awaited<ReturnType<Notifier['sendDueDigests']>>> =>
  ({
    function: 'notify',
    accepts: FACT_TYPES,
    onEnvelope: (envelope) => notifier.notify(envelope),
    onSchedule: () => notifier.sendDueDigests(),
  }) satisfies MessageRoute<unknown>;

type PubSubFunctionName = Extract<(typeof FUNCTIONS)[number], { trigger: { kind: 'pubsub' } }>['name'];

/** The route of every Pub/Sub function of the topology, from the services. */
export const ROUTES: Record<PubSubFunctionName, (services: Services) => MessageRoute<unknown>> = {
  lifecycle: (s) => lifecycleRoute(s.engine),
  reconcile: (s) => reconcileRoute(s.engine),
  executorResults: (s) => executorResultsRoute(s.engine),
  buildNotifications: (s) => buildNotificationsRoute(s.engine),
  complianceSchedule: (s) => complianceScheduleRoute(s.compliance),
  complianceCheck: (s) => complianceCheckRoute(s.compliance),
  rollout: (s) => rolloutRoute(s.rollouts),
  rolloutEvents: (s) => rolloutEventsRoute(s.rollouts),
  notify: (s) => notifyRoute(s.notifier),
  deployments: (s) => deploymentsRoute(s.deployments),
};
