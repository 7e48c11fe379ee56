/**
 * `commands` (HTTP): the only way a person changes anything in the control plane. The caller
 * comes from a verified Google ID token; the body says what to do and never who asks.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { addLogLabels } from '../../shared/log.js';
import { MAX_COMMAND_BODY_BYTES, parseCommandRequest, type CommandOutcome, type RefusalCode } from '../../shared/commands/index.js';
import { ControlPlaneError } from '../../shared/errors.js';
import type { CommandsFunctionDeps } from '../../shared/services.js';
import { authenticate, bodySize, reply } from './authenticated.js';

const STATUS_OF_REFUSAL: Record<RefusalCode, number> = {
  'invalid-request': 400,
  'not-found': 404,
  conflict: 409,
  'event-id-taken': 409,
  'self-approval': 403,
};

/** The raw handler: authenticate, parse, run, answer. Exported for tests. */
export async function handleCommand(req: Request, res: Response, deps: CommandsFunctionDeps): Promise<void> {
  if (req.method !== 'POST') {
    res.set('Allow', 'POST');
    reply(res, 405, { error: 'method-not-allowed', message: `${req.method} is not allowed: POST { "command": "…", … }` });
    return;
  }
  if (bodySize(req) > MAX_COMMAND_BODY_BYTES) {
    reply(res, 413, { error: 'too-large', message: `the body is over ${MAX_COMMAND_BODY_BYTES} bytes: a command is a small JSON object` });
    return;
  }
  // Authenticate before reading the body: an anonymous caller learns nothing about the fleet.
  const caller = await authenticate(req, res, deps, 'mi-commands');
  if (caller === undefined) return;

  const parsed = parseCommandRequest(req.body);
  if ('problem' in parsed) {
    reply(res, 400, { error: 'invalid-request', message: parsed.problem, ...(parsed.field === undefined ? {} : { field: parsed.field }) });
    return;
  }
  const named = parsed.request as { instanceId?: unknown; operationId?: unknown };
  addLogLabels({ instance: typeof named.instanceId === 'string' ? named.instanceId : undefined, operation: typeof named.operationId === 'string' ? named.operationId : undefined });
  let outcome: CommandOutcome;
  try {
    outcome = await deps.commands.run(parsed.request, caller);
  } catch (error) {
    if (error instanceof ControlPlaneError && error.retryable) {
      // It may or may not have been recorded: the same request again (same event id) is answered once.
      reply(res, 503, { error: error.code, message: `${parsed.request.command} could not be recorded (${error.message}); send the same request again` });
      return;
    }
    throw error;
  }
  if (outcome.kind === 'accepted') {
    reply(res, 200, { accepted: outcome.command, by: outcome.by, ...outcome.answer });
    return;
  }
  reply(res, STATUS_OF_REFUSAL[outcome.code], { error: outcome.code, message: outcome.message });
}
