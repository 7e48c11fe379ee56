/**
 * Controls operate every day: a day with no verify-backups run is a finding of its own, not a
 * gap nobody sees. Days are UTC dates, from the first run the report looks back to through the
 * day of the run it reports (a day before the first run is before the control existed).
 */

const DAY_MS = 86_400_000;

/** The UTC days from the earliest of `slotStarts` through `through`'s day that no slot starts on, oldest first. */
export function daysWithoutRun(slotStarts: readonly string[], through: Date): string[] {
  const days = new Set(slotStarts.map((s) => s.slice(0, 10)));
  const first = [...days].sort()[0];
  if (first === undefined) return [];
  const missing: string[] = [];
  const last = through.toISOString().slice(0, 10);
  for (let t = Date.parse(`${first}T00:00:00.000Z`); ; t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    if (day > last) return missing;
    if (!days.has(day)) missing.push(day);
  }
}
