/**
 * Where the compliance functions get their wiring: handed in by `mi dev` and tests, or built on
 * first use in the cloud (functions/compliance-production.ts).
 */
import type { Compliance } from '../shared/compliance/index.js';

let current: Compliance | undefined;
let build: (() => Promise<Compliance>) | undefined;
let building: Promise<Compliance> | undefined;

/** Uses this wiring for the compliance functions of this process (local stack, tests). */
export function useCompliance(compliance: Compliance): void {
  current = compliance;
  building = undefined;
}

/** Sets how the wiring is built on first use (the production entry point). */
export function buildComplianceWith(factory: () => Promise<Compliance>): void {
  build = factory;
}

/** The compliance wiring of this process, built on first use; a failed build is tried again next time. */
export function compliance(): Promise<Compliance> {
  if (current) return Promise.resolve(current);
  if (!build) return Promise.reject(new Error('no compliance wiring configured: call useCompliance() or buildComplianceWith() before serving functions'));
  building ??= build().then(
    (built) => (current = built),
    (error: unknown) => {
      building = undefined;
      throw error;
    },
  );
  return building;
}
