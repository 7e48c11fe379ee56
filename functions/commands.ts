import * as functions from '@google-cloud/functions-framework';
import { handleCommand } from './http/commands.js';
import { traceOfHeaders, withLogContext } from '../shared/log.js';
import { services } from './wiring.js';

/** `commands` (HTTP): the only way a person changes anything; the caller comes from a verified ID token. */
functions.http('commands', (req, res) =>
  withLogContext({ trace: traceOfHeaders((name) => req.get(name)), labels: { function: 'commands' } }, async () => handleCommand(req, res, (await services()).commands)),
);
