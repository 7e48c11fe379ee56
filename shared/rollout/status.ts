/**
 * What `mi rollout status` shows: the rollout, each wave's live counts (aggregation queries
 * over the per-instance progress, not the summary a tick left) with a progress bar, and why
 * it halted. Reading is separate from rendering, so tests can check the text; the counting
 * arithmetic is the domain's (liveWaveSummary).
 */
import { describeFanOut, isReleaseRollout, liveWaveSummary, type InstanceProgress, type ProgressState, type RolloutRecord, type WaveSummary } from '../domain/rollout/index.js';
import type { StateStore } from '../ports.js';
import { COLLECTIONS, rolloutPaths } from '../store/collections.js';

export interface WaveLive extends WaveSummary {
  status: string;
}

export interface RolloutView {
  rollout: RolloutRecord;
  waves: WaveLive[];
  /** Failed instances of the halted wave (or of every wave), with what failed. */
  failures: Array<{ instanceId: string; wave: string; detail: string | null }>;
}

const STATES: readonly ProgressState[] = ['in-flight', 'succeeded', 'failed', 'skipped', 'waiting', 'pending'];

/** The latest rollout (by creation time; workflows and module changes aside), or undefined. */
export async function latestRollout(store: StateStore): Promise<RolloutRecord | undefined> {
  // Rollouts recorded before workflows existed have no kind to query on: the newest few are looked through.
  const docs = await store.query<RolloutRecord>({ collection: COLLECTIONS.rollouts, orderBy: [{ field: 'createdAt', direction: 'desc' }], limit: 50 });
  return docs.find((d) => isReleaseRollout(d.data))?.data;
}

/** The latest workflow (by creation time), or undefined. */
export async function latestWorkflow(store: StateStore): Promise<RolloutRecord | undefined> {
  const docs = await store.query<RolloutRecord>({ collection: COLLECTIONS.rollouts, where: [{ field: 'kind', op: '==', value: 'workflow' }], orderBy: [{ field: 'createdAt', direction: 'desc' }], limit: 1 });
  return docs[0]?.data;
}

/** Reads a rollout and counts its waves live. */
export async function readRolloutView(store: StateStore, rollout: RolloutRecord): Promise<RolloutView> {
  const collection = rolloutPaths.progressCollection(rollout.id);
  const waves = await Promise.all(
    rollout.waves.map(async (spec, i) => {
      const counts = await Promise.all(
        STATES.map((state) =>
          store.count({
            collection,
            where: [
              { field: 'wave', op: '==', value: spec.name },
              { field: 'state', op: '==', value: state },
            ],
          }),
        ),
      );
      const [inFlight = 0, succeeded = 0, failed = 0, skipped = 0, waiting = 0, pending = 0] = counts;
      const last = rollout.summary.find((s) => s.wave === spec.name);
      const { wave, ...live } = liveWaveSummary(spec.name, { inFlight, succeeded, failed, skipped, waiting: waiting + pending }, last);
      return { wave, status: rollout.waveStates[i]?.status ?? 'pending', ...live };
    }),
  );
  const failedDocs = await store.query<InstanceProgress>({
    collection,
    where: [
      ...(rollout.halt ? [{ field: 'wave', op: '==' as const, value: rollout.halt.wave }] : []),
      { field: 'state', op: '==', value: 'failed' },
    ],
    limit: 20,
  });
  return { rollout, waves, failures: failedDocs.map((d) => ({ instanceId: d.id, wave: d.data.wave, detail: d.data.detail })) };
}

/** How a rendering may colour its words (the CLI paints on a terminal only); plain by default. */
export interface ViewPaint {
  ok(text: string): string;
  warn(text: string): string;
  bad(text: string): string;
  dim(text: string): string;
  strong(text: string): string;
}

export const PLAIN_VIEW: ViewPaint = { ok: (t) => t, warn: (t) => t, bad: (t) => t, dim: (t) => t, strong: (t) => t };

/** Done (#), in flight (>, at least one cell while any is), waiting (-). */
function bar(wave: WaveLive, paint: ViewPaint, width = 24): string {
  if (wave.total === 0) return `[${'·'.repeat(width)}]`;
  const done = wave.succeeded + wave.failed + wave.skipped;
  // Rounded down: the bar is full only when every member is done.
  const filled = Math.min(width, Math.floor((done / wave.total) * width));
  const flying = Math.min(width - filled, Math.max(wave.inFlight > 0 ? 1 : 0, Math.round((wave.inFlight / wave.total) * width)));
  const finished = '#'.repeat(filled);
  return `[${wave.failed > 0 ? paint.bad(finished) : paint.ok(finished)}${paint.warn('>'.repeat(flying))}${paint.dim('-'.repeat(width - filled - flying))}]`;
}

function statusWord(status: string, paint: ViewPaint): string {
  const word = status.toUpperCase();
  if (status === 'completed') return paint.ok(word);
  if (status === 'halted' || status === 'aborted') return paint.bad(word);
  return paint.warn(word);
}

/** The text of `mi rollout status`. */
export function renderRolloutView(view: RolloutView, now: Date, paint: ViewPaint = PLAIN_VIEW): string[] {
  const { rollout } = view;
  const workflow = !isReleaseRollout(rollout);
  const verb = workflow ? 'mi workflow' : 'mi rollout';
  const lines = [
    `${paint.strong(describeFanOut(rollout))}: ${statusWord(rollout.status, paint)}`,
    `  started ${rollout.createdAt} by ${rollout.actor}: ${rollout.reason}`,
    `  last tick ${rollout.lastTickAt ?? 'not yet'}${rollout.completedAt ? `; ended ${rollout.completedAt}` : ''}`,
    '',
  ];
  const nameWidth = Math.max(...view.waves.map((w) => w.wave.length));
  view.waves.forEach((wave, i) => {
    const spec = rollout.waves[i];
    const state = rollout.waveStates[i];
    const done = wave.succeeded + wave.failed + wave.skipped;
    let status = wave.status;
    if (state?.status === 'soaking' && state.soakUntil) {
      const left = Math.max(0, Date.parse(state.soakUntil) - now.getTime());
      status = `soaking, ${Math.ceil(left / 60_000)} min left`;
    }
    if (state?.status === 'awaiting-gate') status = `awaiting gate: ${verb} promote`;
    lines.push(
      `  ${wave.wave.padEnd(nameWidth)} ${bar(wave, paint)} ${String(done).padStart(4)}/${String(wave.total).padEnd(4)} ` +
        `ok ${wave.succeeded}, failed ${wave.failed} (budget ${wave.budget}), in flight ${wave.inFlight}/${spec?.maxInFlight ?? '?'}, skipped ${wave.skipped}, waiting ${wave.waiting}  ${status}`,
    );
  });
  if (rollout.status === 'halted' && rollout.halt) {
    lines.push('', paint.bad(`HALTED in wave ${rollout.halt.wave} at ${rollout.halt.at}: its failures exceed its budget.`), `  why: ${rollout.halt.reason}`);
    lines.push(`  then: fix and \`${verb} resume\` (accepts these failures), or \`${verb} abort\``);
  }
  if (rollout.status === 'awaiting-approval') {
    lines.push('', `WAITING for a second person's approval (it changes prod): mi workflow approve ${rollout.id} (not by ${rollout.actor})`);
  }
  if (view.failures.length > 0) {
    lines.push('', workflow ? 'failed members:' : 'failed upgrades:');
    for (const f of view.failures) lines.push(`  ${f.instanceId} (${f.wave}): ${f.detail ?? 'no detail'}`);
  }
  return lines;
}
