/**
 * Where the compliance functions get their wiring: handed in by `mi dev` and tests, or built on
 * first use in the cloud (functions/compliance-production.ts).
 */
import type { Compliance } from '../shared/compliance/index.js';
import { lazily } from './wiring.js';

const wiring = lazily<Compliance>('compliance wiring', 'useCompliance() or buildComplianceWith()');

/** Uses this wiring for the compliance functions of this process (local stack, tests). */
export function useCompliance(compliance: Compliance): void {
  wiring.use(compliance);
}

/** Sets how the wiring is built on first use (the production entry point). */
export function buildComplianceWith(factory: () => Promise<Compliance>): void {
  wiring.buildWith(factory);
}

/** The compliance wiring of this process, built on first use; a failed build is tried again next time. */
export function compliance(): Promise<Compliance> {
  return wiring.get();
}
