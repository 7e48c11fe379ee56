/**
 * `githubWebhook` (HTTP, reachable by GitHub without a Google identity): the signature over the
 * body authenticates the delivery. Thin: the handler in shared/webhook/ decides.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { handleGithubWebhook, type WebhookDeps } from '../../shared/webhook/index.js';
import { ControlPlaneError } from '../../shared/errors.js';

/** The raw handler over an Express request: exported for tests. */
export async function handleWebhookRequest(req: Request, res: Response, deps: WebhookDeps): Promise<void> {
  let answer;
  try {
    answer = await handleGithubWebhook({ method: req.method, header: (name) => req.get(name), rawBody: req.rawBody }, deps);
  } catch (error) {
    // Firestore or Pub/Sub did not answer: GitHub may redeliver; nothing was recorded as handled.
    if (error instanceof ControlPlaneError && error.retryable) {
      res.status(503).set('Retry-After', '60').json({ error: error.code, message: 'the delivery could not be recorded; redeliver it' });
      return;
    }
    throw error;
  }
  res.status(answer.status).set('Cache-Control', 'no-store').json(answer.body);
}
