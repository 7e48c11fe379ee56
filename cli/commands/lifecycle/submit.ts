/**
 * The one way a lifecycle command goes out: the envelope is built from the row's request (the
 * operator as actor, the reason), published on `mi-lifecycle`, reported, and with `--wait`
 * followed until the operation ends, its steps printed as they pass. How a command is
 * submitted changes here and only here.
 */
import type { Command } from 'commander';
import { operationIdFor } from '../../../shared/domain/lifecycle/operations.js';
import { DecodeError, makeEnvelope, type Envelope, type EventType } from '../../../shared/events/index.js';
import { TOPICS } from '../../../shared/topology.js';
import { DEFAULT_POLL_INTERVAL_MS } from '../../config.js';
import type { CliContext } from '../../context.js';
import { refused } from '../../errors.js';
import { line, printJson } from '../../output.js';
import { waitForOperation } from '../../wait.js';
import type { Submission } from './command.js';
import type { CommonFlagValues } from './flags.js';

/** Builds the envelope; a value the schema refuses (such as the actor) is reported by field. */
export function envelopeOf<T extends EventType>(build: () => Envelope<T>): Envelope<T> {
  try {
    return build();
  } catch (error) {
    if (error instanceof DecodeError) {
      const hint = error.field === 'actor' ? ' (set MI_ACTOR, or git config user.email)' : '';
      throw refused(`cannot build the command: ${error.message}${hint}`, error);
    }
    throw error;
  }
}

/** Publishes the submission, reports it, and follows the operation when asked; sets the exit code. */
export async function submitAndFollow(ctx: CliContext, command: Command, submission: Submission, flags: CommonFlagValues): Promise<void> {
  const envelope: Envelope<EventType> = envelopeOf(() => makeEnvelope({ ...submission.request, actor: ctx.actor(), reason: flags.reason }));
  const operationId = operationIdFor(envelope.eventId);
  const { stdout } = ctx.io;
  if (submission.notice !== undefined && !flags.json) line(stdout, submission.notice(operationId));
  const backend = ctx.backend(command);
  const messageId = await backend.bus.publish(TOPICS.lifecycle, envelope);
  const published = { eventId: envelope.eventId, operationId, messageId, envelope };
  if (!flags.json) {
    line(stdout, `published ${envelope.type} for ${submission.summary} (event ${envelope.eventId})`);
    line(stdout, `operation ${operationId}${flags.wait ? '' : `: follow it with mi op get ${operationId}`}`);
  }
  if (!flags.wait) {
    if (flags.json) printJson(stdout, published);
    return;
  }
  if (!flags.json) line(stdout, `waiting up to ${command.opts<{ timeout: string }>().timeout} (Ctrl-C stops waiting, not the operation)`);
  const result = await waitForOperation(backend.store, {
    operationId,
    eventId: envelope.eventId,
    timeoutMs: flags.timeout,
    pollIntervalMs: ctx.io.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    ...(flags.json ? {} : { progress: stdout }),
  });
  if (flags.json) {
    printJson(stdout, {
      ...published,
      outcome: result.kind === 'ended' ? result.operation.status : result.kind,
      operation: result.kind === 'rejected' ? null : (result.operation ?? null),
      rejection: result.kind === 'rejected' ? result.ledger : null,
    });
  }
  ctx.exitCode = result.exitCode;
}
