/**
 * The plan of a compliance run and what it is measured against, as pure functions.
 *
 * A plan is a set of pages, each covering a stretch of the instance id space (ids compare as
 * Firestore orders document ids: byte-wise, which for the lowercase ASCII of instance ids is
 * JavaScript's string order) and holding the ids found there. The pages must cover the whole
 * id space without a gap before any check message goes out: a stretch no page covers is a
 * stretch whose instances the report could never miss. Pages may overlap (two workers whose
 * claims crossed); the plan is the union of their ids.
 */

/** A stretch of the id space: after `after` (exclusive; null: from the first id) through `through` (inclusive; null: to the last). */
export interface IdRange {
  after: string | null;
  through: string | null;
}

/**
 * A page as stored. Both bounds absent: a page recorded by an older version, which holds ids
 * but says nothing of the stretch it covered (its stretch is planned again).
 */
export interface PlanPageRange {
  after?: string | null;
  through?: string | null;
  ids: readonly string[];
}

function hasRange(page: PlanPageRange): page is PlanPageRange & IdRange {
  return page.after !== undefined && page.through !== undefined;
}

/** `a` before `b` as lower bounds: null (the start) first. */
function compareAfter(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** The stretches no page covers, in id order; [] when the pages cover everything. */
export function planGaps(pages: readonly PlanPageRange[]): IdRange[] {
  const ranged = pages.filter(hasRange).sort((a, b) => compareAfter(a.after, b.after));
  const gaps: IdRange[] = [];
  // How far from the start the pages seen so far cover: nothing yet, through an id, or everything.
  let reach: { kind: 'none' } | { kind: 'through'; id: string } | { kind: 'all' } = { kind: 'none' };
  for (const page of ranged) {
    if (reach.kind === 'all') break;
    if (page.through !== null && page.after !== null && page.through <= page.after) continue;
    if (reach.kind === 'none') {
      if (page.after !== null) gaps.push({ after: null, through: page.after });
    } else if (page.after !== null && page.after > reach.id) {
      gaps.push({ after: reach.id, through: page.after });
    }
    if (page.through === null) reach = { kind: 'all' };
    else if (reach.kind === 'none' || page.through > reach.id) reach = { kind: 'through', id: page.through };
  }
  if (reach.kind === 'none') gaps.push({ after: null, through: null });
  else if (reach.kind === 'through') gaps.push({ after: reach.id, through: null });
  return gaps;
}

/**
 * The next page of a gap, from the ids a query returned: at most `limit` ids in id order,
 * starting after `gap.after`. A full page that stays inside the gap covers up to its last id
 * and leaves the rest of the gap; a short one (or one that ran past the gap) closes the gap.
 */
export function cutPage(gap: IdRange, ids: readonly string[], limit: number): { page: IdRange & { ids: string[] }; rest: IdRange | null } {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a plan page holds at least one id, got a limit of ${limit}`);
  const through = gap.through;
  const inside = ids.filter((id) => (gap.after === null || id > gap.after) && (through === null || id <= through));
  const last = inside.at(-1);
  if (ids.length < limit || inside.length < ids.length || last === undefined || last === through) {
    return { page: { after: gap.after, through, ids: inside }, rest: null };
  }
  return { page: { after: gap.after, through: last, ids: inside }, rest: { after: last, through } };
}

export interface PlanVerdict {
  /** Every id of the plan, once, in id order. */
  ids: string[];
  /** Stretches no page covers. */
  gaps: IdRange[];
  /** True when the pages cover the whole id space. */
  covered: boolean;
}

/** What the stored pages of a plan add up to: the planned ids and whether anything is left uncovered. */
export function verifyPlan(pages: readonly PlanPageRange[]): PlanVerdict {
  const ids = [...new Set(pages.flatMap((page) => page.ids))].sort();
  const gaps = planGaps(pages);
  return { ids, gaps, covered: gaps.length === 0 };
}

/** A page written by one worker, read back: the same ids, or (another worker rewrote it) another writer. */
export interface WrittenPage {
  path: string;
  ids: readonly string[];
}

/**
 * Pages this worker wrote that do not read back as written: absent, or holding other ids while
 * still carrying this worker's mark. A page another worker rewrote since is theirs to answer for.
 */
export function unconfirmedWrites(written: readonly WrittenPage[], readBack: ReadonlyMap<string, { ids: readonly string[]; plannedBy?: string }>, writer: string): string[] {
  return written
    .filter((page) => {
      const stored = readBack.get(page.path);
      if (stored === undefined) return true;
      if (stored.plannedBy !== undefined && stored.plannedBy !== writer) return false;
      return stored.ids.length !== page.ids.length || stored.ids.some((id, i) => id !== page.ids[i]);
    })
    .map((page) => page.path);
}

/** How the planned and the checked instances of a run compare, as sets. */
export interface Coverage {
  planned: number;
  checked: number;
  /** Planned, no finding: each a failure of its own. In id order. */
  plannedNotChecked: string[];
  /** A finding for an instance the plan does not hold. In id order. */
  checkedNotPlanned: string[];
  /** The two sets are equal. */
  matches: boolean;
}

/** Compares the planned and checked id sets (duplicates in either count once). */
export function compareIdSets(planned: Iterable<string>, checked: Iterable<string>): Coverage {
  const plannedSet = new Set(planned);
  const checkedSet = new Set(checked);
  const plannedNotChecked = [...plannedSet].filter((id) => !checkedSet.has(id)).sort();
  const checkedNotPlanned = [...checkedSet].filter((id) => !plannedSet.has(id)).sort();
  return {
    planned: plannedSet.size,
    checked: checkedSet.size,
    plannedNotChecked,
    checkedNotPlanned,
    matches: plannedNotChecked.length === 0 && checkedNotPlanned.length === 0,
  };
}

/** What stands between a run and "complete", as an auditor reads it: [] when it is complete. */
export function completenessProblems(facts: { status: 'planning' | 'done'; recordedPlanned: number | null; plan: PlanVerdict; coverage: Coverage }): string[] {
  const problems: string[] = [];
  if (facts.status !== 'done') problems.push('the run has not finished planning and fanning out');
  if (!facts.plan.covered) {
    const shown = facts.plan.gaps.slice(0, 3).map((g) => `(${g.after ?? 'start'}, ${g.through ?? 'end'}]`);
    problems.push(`the plan leaves ${facts.plan.gaps.length} stretch(es) of instance ids uncovered: ${shown.join(', ')}${facts.plan.gaps.length > 3 ? ', ...' : ''}`);
  }
  if (facts.recordedPlanned !== null && facts.recordedPlanned !== facts.plan.ids.length) {
    problems.push(`the run recorded ${facts.recordedPlanned} instances planned, its plan pages hold ${facts.plan.ids.length}`);
  }
  if (facts.coverage.plannedNotChecked.length > 0) problems.push(`${facts.coverage.plannedNotChecked.length} planned instance(s) were never checked`);
  if (facts.coverage.checkedNotPlanned.length > 0) problems.push(`${facts.coverage.checkedNotPlanned.length} instance(s) were checked but not planned`);
  return problems;
}
