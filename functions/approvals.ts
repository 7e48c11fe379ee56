import * as functions from '@google-cloud/functions-framework';
import { handleApproval } from './http/approval.js';
import { services } from './wiring.js';

export { SELF_DECLARED_IDENTITY } from './http/approval.js';

/** `approvals` (HTTP): a second person approves an operation waiting for one; the approver comes from a verified ID token. */
functions.http('approvals', async (req, res) => handleApproval(req, res, (await services()).approvals));
