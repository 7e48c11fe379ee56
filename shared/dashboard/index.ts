/**
 * The fleet dashboard: a read-only web page over the control plane's state, server-rendered.
 * `renderPage(path, query)` parses the request (view.ts), reads what the page needs through the
 * reader (reader.ts: a few limited queries, never the whole fleet), and lays it out (pages.ts).
 * The HTTP function in front (functions/http/dashboard.ts) authenticates the caller first.
 */
import type { Finding } from '../compliance/model.js';
import { ControlPlaneError } from '../errors.js';
import type { Clock, StateStore } from '../ports.js';
import { html, toText, type Markup } from './html.js';
import { compliancePage, evidencePage, fleetPage, layout, operationsSection, problemPage, rolloutsPage } from './pages.js';
import { createDashboardReader, type DashboardReader } from './reader.js';
import {
  evidenceOf,
  fleetRow,
  linkTo,
  matrixRow,
  MATRIX_CONTROLS,
  OPERATION_LISTS,
  operationRow,
  pageOf,
  parseDashboardRequest,
  rolloutRow,
  type DashboardRequest,
  type PageName,
} from './view.js';

export { createDashboardReader, type DashboardReader } from './reader.js';
export * from './view.js';

/** A rendered page: its HTTP status and the HTML. */
export interface RenderedPage {
  status: number;
  html: string;
}

export interface Dashboard {
  /** The page a GET of `path` with `query` asks for, or a page saying what was wrong with it. */
  renderPage(path: string, query: Record<string, unknown>): Promise<RenderedPage>;
}

export interface DashboardDeps {
  store: StateStore;
  clock: Clock;
}

const TITLES: Record<PageName, string> = { fleet: 'Fleet', operations: 'Operations', rollouts: 'Rollouts and workflows', compliance: 'Compliance matrix', evidence: 'Evidence' };

/** The dashboard on a state store. */
export function createDashboard(deps: DashboardDeps): Dashboard {
  const reader = createDashboardReader(deps.store);
  return {
    async renderPage(path, query) {
      const now = deps.clock.now();
      const request = parseDashboardRequest(path, query);
      if ('status' in request) return { status: request.status, html: toText(layout('fleet', request.status === 404 ? 'Not found' : 'Bad request', problemPage(request.status, request.message), now)) };
      try {
        const content = await contentOf(request, reader, now);
        if ('problem' in content) return { status: content.problem.status, html: toText(layout(request.page, 'Not found', problemPage(content.problem.status, content.problem.message), now)) };
        return { status: 200, html: toText(layout(request.page, content.title ?? TITLES[request.page], content.markup, now)) };
      } catch (error) {
        // A cursor whose document was deleted since its page was read: say so, and where to start again.
        if (error instanceof ControlPlaneError && error.code === 'not-found' && error.details.startAfterId !== undefined) {
          return { status: 400, html: toText(layout(request.page, 'Bad request', problemPage(400, `${error.message}: start again from the first page`), now)) };
        }
        throw error;
      }
    },
  };
}

type Content = { markup: Markup; title?: string } | { problem: { status: 400 | 404; message: string } };

async function contentOf(request: DashboardRequest, reader: DashboardReader, now: Date): Promise<Content> {
  switch (request.page) {
    case 'fleet': {
      const [read, total, run] = await Promise.all([reader.instances(request), reader.fleetSize(), reader.latestRun()]);
      const page = pageOf(read, request.limit, (i) => i.id);
      const findings = run === undefined ? new Map<string, Finding>() : await reader.findingsOf(run.runId, page.items.map((i) => i.id));
      return {
        markup: fleetPage({
          rows: page.items.map((i) => fleetRow(i, findings.get(i.id), now)),
          total,
          after: request.after,
          next: page.next === null ? null : linkTo('fleet', { after: page.next, limit: request.limit === 50 ? null : request.limit }),
          first: request.after === null ? null : linkTo('fleet'),
          run,
        }),
      };
    }
    case 'operations': {
      const lists = request.list === null ? OPERATION_LISTS : [request.list];
      const sections = await Promise.all(
        lists.map(async (list) => {
          const after = request.list === list ? request.after : null;
          const page = pageOf(await reader.operations(list, { after, limit: request.limit }), request.limit, (o) => o.id);
          return operationsSection(list, {
            rows: page.items.map((o) => operationRow(o, now)),
            next: page.next === null ? null : linkTo('operations', { list, after: page.next }),
            first: after === null ? null : linkTo('operations', { list }),
          });
        }),
      );
      return { markup: html`${sections}` };
    }
    case 'rollouts': {
      const page = pageOf(await reader.rollouts(request), request.limit, (r) => r.id);
      return {
        markup: rolloutsPage({
          rows: page.items.map((r) => rolloutRow(r, now)),
          next: page.next === null ? null : linkTo('rollouts', { after: page.next }),
          first: request.after === null ? null : linkTo('rollouts'),
        }),
      };
    }
    case 'compliance': {
      const run = request.run === null ? await reader.latestRun() : await reader.run(request.run);
      if (run === undefined && request.run !== null) return { problem: { status: 404, message: `no compliance run ${request.run}` } };
      const read = run === undefined ? [] : await reader.findings(run.runId, { after: request.after, limit: request.limit, failingOnly: request.failing });
      const page = pageOf(read, request.limit, (f) => f.instanceId ?? '');
      const failing = request.failing ? 1 : null;
      return {
        markup: compliancePage({
          run,
          controls: MATRIX_CONTROLS,
          rows: page.items.map((f) => matrixRow(f)),
          failingOnly: request.failing,
          next: page.next === null || run === undefined ? null : linkTo('compliance', { run: run.runId, failing, after: page.next }),
          first: request.after === null || run === undefined ? null : linkTo('compliance', { run: run.runId, failing }),
        }),
      };
    }
    case 'evidence': {
      const finding = await reader.finding(request.run, request.instance);
      const found = evidenceOf(finding, request);
      if ('status' in found || finding === undefined) return { problem: 'status' in found ? found : { status: 404, message: 'no finding' } };
      return { markup: evidencePage(finding, found.result), title: `Evidence: ${request.control} on ${request.instance}` };
    }
  }
}
