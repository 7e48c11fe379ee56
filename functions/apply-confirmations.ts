import * as functions from '@google-cloud/functions-framework';
import { handleConfirmation } from './http/confirmation.js';
import { services } from './wiring.js';

/** `applyConfirmations` (HTTP): a person confirms a planned module apply or a repository delete; who comes from a verified ID token. */
functions.http('applyConfirmations', async (req, res) => handleConfirmation(req, res, (await services()).confirmations));
