import * as functions from '@google-cloud/functions-framework';
import { handleDashboard } from './http/dashboard.js';
import { traceOfHeaders, withLogContext } from '../shared/log.js';
import { services } from './wiring.js';

/** `dashboard` (HTTP, private): the fleet dashboard, read-only; the caller comes from a verified ID token. */
functions.http('dashboard', (req, res) =>
  withLogContext({ trace: traceOfHeaders((name) => req.get(name)), labels: { function: 'dashboard' } }, async () => handleDashboard(req, res, (await services()).dashboard)),
);
