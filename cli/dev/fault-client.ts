/**
 * `mi dev fault`'s side of the simulated fleet's fault control (shared/sim/faults-http.ts): the
 * running `mi dev` leaves its URL in the local identity file; every answer is parsed with the
 * fault control's schemas, and a refusal is passed on in its own words.
 */
import type { z } from 'zod';
import { EXIT } from '../config.js';
import { describeError } from '../../shared/errors.js';
import { faultClearedSchema, faultListSchema, injectedFaultSchema, type FaultClear, type FaultRequest, type InjectedFault } from '../../shared/sim/fault-control.js';
import type { CliEnv } from '../backend.js';
import { CliError, refused } from '../errors.js';
import { identityFilePath, readIdentityFile } from './identity-file.js';

const DEADLINE_MS = 5_000;

/** Where the running `mi dev` serves its fault control. */
async function faultsUrl(env: CliEnv): Promise<string> {
  const path = identityFilePath(env);
  const file = await readIdentityFile(path).catch((error: unknown) => {
    throw new CliError(`cannot read the local identity of mi dev at ${path} (${describeError(error)})`, EXIT.unreachable, { cause: error });
  });
  if (file === undefined) throw new CliError(`no mi dev is running here (no ${path}): start it with npm start or mi dev`, EXIT.unreachable);
  if (file.faultsUrl === undefined) throw new CliError(`the mi dev that wrote ${path} serves no fault control: restart it with this checkout's mi dev`, EXIT.unreachable);
  return file.faultsUrl;
}

async function call<S extends z.ZodType>(env: CliEnv, schema: S, init: { method: string; path: string; body?: unknown }): Promise<z.output<S>> {
  const url = `${await faultsUrl(env)}${init.path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method,
      signal: AbortSignal.timeout(DEADLINE_MS),
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } }),
    });
  } catch (error) {
    throw new CliError(`mi dev's fault control did not answer at ${url} (${describeError(error)}): is mi dev still running?`, EXIT.unreachable, { cause: error });
  }
  const body = (await response.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
  if (response.status === 400 || response.status === 404) throw refused(body?.error?.message ?? `the fault control answered ${response.status}`);
  if (!response.ok) throw new CliError(`the fault control answered ${response.status}: ${body?.error?.message ?? 'no message'}`, EXIT.failed);
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new CliError(`the fault control answered something this mi does not understand (${parsed.error.issues[0]?.message ?? 'invalid'}): is mi dev from this checkout?`, EXIT.failed);
  return parsed.data;
}

export function injectFault(env: CliEnv, request: FaultRequest): Promise<InjectedFault> {
  return call(env, injectedFaultSchema, { method: 'POST', path: '/v1/faults', body: request });
}

export async function listFaults(env: CliEnv): Promise<InjectedFault[]> {
  return (await call(env, faultListSchema, { method: 'GET', path: '/v1/faults' })).faults;
}

export async function clearFaults(env: CliEnv, filter: FaultClear): Promise<number> {
  const query = new URLSearchParams(Object.entries(filter).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const suffix = query.size === 0 ? '' : `?${query.toString()}`;
  return (await call(env, faultClearedSchema, { method: 'DELETE', path: `/v1/faults${suffix}` })).cleared;
}
