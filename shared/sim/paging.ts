/**
 * Paging as Google APIs do it: an opaque token that continues after the last item served,
 * so items added or removed between pages never make a walk repeat or skip the others.
 */
import { ControlPlaneError } from '../errors.js';
import type { Page } from '../ports.js';

/** A position in a list: compared element by element; lists are served in ascending order. */
export type SortKey = ReadonlyArray<string | number>;

export interface PageRequest {
  pageToken?: string | undefined;
  size?: number | undefined;
}

export interface PagingRules {
  service: string;
  /** Names the list, so a token from another list is refused as the real APIs refuse it. */
  scope: string;
  defaultSize: number;
  maxSize: number;
}

function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

function invalidArgument(rules: PagingRules, message: string): ControlPlaneError {
  return new ControlPlaneError('failed-precondition', `${rules.service}: ${message}`, {
    retryable: false,
    details: { httpStatus: 400, service: rules.service },
  });
}

function decodeToken(rules: PagingRules, token: string): SortKey {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; k?: unknown };
    if (parsed.s === rules.scope && Array.isArray(parsed.k) && parsed.k.every((part) => typeof part === 'string' || typeof part === 'number')) {
      return parsed.k;
    }
  } catch {
    // falls through to the same answer as a well-formed token of another list
  }
  throw invalidArgument(rules, 'invalid page token (pass back the nextPageToken of the same list unchanged)');
}

/** One page of `items`, ordered by `keyOf` ascending. */
export function pageOf<T>(items: readonly T[], keyOf: (item: T) => SortKey, rules: PagingRules, request: PageRequest = {}): Page<T> {
  const size = request.size === undefined || request.size === 0 ? rules.defaultSize : request.size;
  if (!Number.isInteger(size) || size < 0) throw invalidArgument(rules, `page size must be a non-negative integer, got ${size}`);
  const limit = Math.min(size, rules.maxSize);
  const after = request.pageToken === undefined || request.pageToken === '' ? undefined : decodeToken(rules, request.pageToken);
  const ordered = items
    .map((item) => ({ item, key: keyOf(item) }))
    .sort((a, b) => compareKeys(a.key, b.key))
    .filter((entry) => after === undefined || compareKeys(entry.key, after) > 0);
  const served = ordered.slice(0, limit);
  const last = served[served.length - 1];
  const more = ordered.length > served.length && last !== undefined;
  return {
    items: served.map((entry) => entry.item),
    ...(more ? { nextPageToken: Buffer.from(JSON.stringify({ s: rules.scope, k: last.key })).toString('base64url') } : {}),
  };
}
