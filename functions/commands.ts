import * as functions from '@google-cloud/functions-framework';
import { handleCommand } from './http/commands.js';
import { services } from './wiring.js';

/** `commands` (HTTP): the only way a person changes anything; the caller comes from a verified ID token. */
functions.http('commands', async (req, res) => handleCommand(req, res, (await services()).commands));
