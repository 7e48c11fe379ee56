/**
 * What on `mi-events` a person is told about, and what pages someone now: pure functions of the
 * event and of the instance it names. Everything else on the topic (acceptances, successes,
 * rejections that automated sources handle) is no notice.
 */
import { ALERT_KINDS, type AnyEnvelope } from '../../events/index.js';
import type { Environment } from '../../events/instance.js';

/** Every alert kind is a notice kind; beside them, the facts that are notices of their own. */
export const NOTICE_KINDS = [
  'operation-failed',
  'dev-expiry',
  ...ALERT_KINDS,
  /** An alert published before alerts had kinds. */
  'alert',
] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

/** Where a notice is about: an instance's environment, or the fleet as a whole. */
export type NoticeScope = Environment | 'fleet';

export interface Notice {
  eventId: string;
  kind: NoticeKind;
  scope: NoticeScope;
  severity: 'info' | 'warning' | 'critical';
  /** One line: what happened, where. */
  title: string;
  /** What a person needs to act: the reason, the ids, the command to look further. */
  text: string;
  instanceId?: string;
  /** A dev instance's owner, told of its expiry. */
  owner?: string;
  /** It needs a person now: paged, not only posted. */
  page: boolean;
  at: string;
}

/** What the notice needs to know of the instance an event names. */
export interface InstanceFacts {
  environment: Environment;
  tier: 'internal' | 'customer';
  owner?: string;
}

const stringOf = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The notice an event gives, or undefined when it needs no person. */
export function noticeOf(envelope: AnyEnvelope, instance: InstanceFacts | undefined): Notice | undefined {
  const base = {
    eventId: envelope.eventId,
    at: envelope.issuedAt,
    scope: instance?.environment ?? ('fleet' as const),
    ...(envelope.instanceId === undefined ? {} : { instanceId: envelope.instanceId }),
  };
  const where = envelope.instanceId ?? 'the fleet';
  switch (envelope.type) {
    case 'operation.failed': {
      const { payload } = envelope;
      return {
        ...base,
        kind: 'operation-failed',
        severity: instance?.environment === 'prod' ? 'critical' : 'warning',
        title: `${payload.operationType} of ${where} failed at ${payload.failedStep}`,
        text: `${payload.reason}\nmi op get ${payload.operationId}   (mi audit --op ${payload.operationId} for the trail)`,
        page: false,
      };
    }
    case 'operation.stuck': {
      const { payload } = envelope;
      return {
        ...base,
        kind: 'operation-stuck',
        severity: 'critical',
        title: `${payload.operationType} of ${where} is stuck (deadline ${payload.deadline})`,
        text: `still running: ${payload.stillRunning.join(', ') || 'nothing'}; the lease stays until nothing it started runs, or an operator abandons it\nmi op get ${payload.operationId}`,
        // A stuck prod operation holds a customer's instance: someone looks now.
        page: instance?.environment === 'prod',
      };
    }
    case 'instance.expiring': {
      const { payload } = envelope;
      return {
        ...base,
        kind: 'dev-expiry',
        severity: 'info',
        title: `${where} expires at ${payload.expiresAt}`,
        text: `it is deleted after its expiry and grace; to keep it: mi instance extend ${where} --hours 168 --reason "…"`,
        ...(instance?.owner === undefined ? {} : { owner: instance.owner }),
        page: false,
      };
    }
    case 'alert': {
      const { payload } = envelope;
      const kind = payload.kind ?? 'alert';
      // The operation.stuck fact beside it is the notice: one happening, one message.
      if (kind === 'operation-stuck') return undefined;
      const environment = stringOf(payload.details.environment);
      const wave = stringOf(payload.details.wave);
      return {
        ...base,
        ...(base.scope === 'fleet' && (environment === 'dev' || environment === 'prod') ? { scope: environment } : {}),
        kind,
        severity: payload.severity,
        title: payload.summary.split('\n')[0]?.slice(0, 200) ?? payload.summary,
        text: payload.summary,
        // A halted customer wave leaves customers on a release half done; a break-glass grant is prod access without a second person.
        page: (kind === 'rollout-halted' && wave === 'customers') || kind === 'break-glass',
      };
    }
    default:
      return undefined;
  }
}
