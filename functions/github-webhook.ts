import * as functions from '@google-cloud/functions-framework';
import { handleWebhookRequest } from './http/webhook.js';
import { traceOfHeaders, withLogContext } from '../shared/log.js';
import { services } from './wiring.js';

/** `githubWebhook` (HTTP, reachable by GitHub without a Google identity): the signature over the body authenticates the delivery. */
functions.http('githubWebhook', (req, res) =>
  withLogContext({ trace: traceOfHeaders((name) => req.get(name)), labels: { function: 'githubWebhook' } }, async () => handleWebhookRequest(req, res, (await services()).webhook())),
);
