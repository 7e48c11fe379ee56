/**
 * The one way a lifecycle command goes out: the request is built from the row's (the reason, an
 * event id chosen here so that sending it again is the same command), sent to the commands
 * function as the caller, reported, and with `--wait` followed until the operation ends, its
 * steps printed as they pass. How a command is submitted changes here and only here.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { operationIdFor } from '../../../shared/domain/lifecycle/operations.js';
import { DEFAULT_POLL_INTERVAL_MS } from '../../config.js';
import { sendCommand } from '../../commands-client.js';
import type { CliContext } from '../../context.js';
import { line, printJson } from '../../output.js';
import { waitForOperation } from '../../wait.js';
import type { Submission } from './command.js';
import type { CommonFlagValues } from './flags.js';

/** Sends the submission, reports it, and follows the operation when asked; sets the exit code. */
export async function submitAndFollow(ctx: CliContext, command: Command, submission: Submission, flags: CommonFlagValues): Promise<void> {
  const eventId = randomUUID();
  const operationId = operationIdFor(eventId);
  const { stdout } = ctx.io;
  if (submission.notice !== undefined && !flags.json) line(stdout, submission.notice(operationId));
  const { request } = submission;
  const answer = await sendCommand(
    ctx,
    command,
    { command: request.type, eventId, instanceId: request.instanceId, reason: flags.reason, payload: request.payload },
    { what: `${request.type} for ${submission.summary}`, idempotent: true },
  );
  const sent = { eventId, operationId, command: request.type, by: answer.by ?? null };
  if (!flags.json) {
    line(stdout, `sent ${request.type} for ${submission.summary} as ${answer.by ?? 'you'} (event ${eventId})`);
    line(stdout, `operation ${operationId}${flags.wait ? '' : `: follow it with mi op get ${operationId}`}`);
  }
  if (!flags.wait) {
    if (flags.json) printJson(stdout, sent);
    return;
  }
  if (!flags.json) line(stdout, `waiting up to ${command.opts<{ timeout: string }>().timeout} (Ctrl-C stops waiting, not the operation)`);
  const result = await waitForOperation(ctx.backend(command).store, {
    operationId,
    eventId,
    timeoutMs: flags.timeout,
    pollIntervalMs: ctx.io.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    ...(flags.json ? {} : { progress: stdout }),
  });
  if (flags.json) {
    printJson(stdout, {
      ...sent,
      outcome: result.kind === 'ended' ? result.operation.status : result.kind,
      operation: result.kind === 'rejected' ? null : (result.operation ?? null),
      rejection: result.kind === 'rejected' ? result.ledger : null,
    });
  }
  ctx.exitCode = result.exitCode;
}
