import * as functions from '@google-cloud/functions-framework';
import { handleWebhookRequest } from './http/webhook.js';
import { services } from './wiring.js';

/** `githubWebhook` (HTTP, reachable by GitHub without a Google identity): the signature over the body authenticates the delivery. */
functions.http('githubWebhook', async (req, res) => handleWebhookRequest(req, res, (await services()).webhook()));
