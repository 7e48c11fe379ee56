/** Quoting a caller's input in error messages, which end up in the ledger and the audit trail. */

/** How much of a caller's input an error message may quote. */
const QUOTE_LENGTH = 40;

/** A short, safe rendering of input for an error message: never the whole of a large value. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const safe = text.replace(/\p{Surrogate}/gu, '\uFFFD');
  return safe.length <= QUOTE_LENGTH ? JSON.stringify(safe) : `${JSON.stringify(safe.slice(0, QUOTE_LENGTH))}… (${text.length} characters)`;
}
