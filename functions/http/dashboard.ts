/**
 * `dashboard` (HTTP): the fleet dashboard, read-only, private like the command API. The caller
 * is authenticated from a verified Google ID token before anything is read (`mi dashboard`'s
 * loopback proxy adds the operator's token: a browser cannot); then the page is rendered by
 * shared/dashboard. Only GET and HEAD: nothing here changes anything.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { ControlPlaneError } from '../../shared/errors.js';
import type { DashboardFunctionDeps } from '../../shared/services.js';
import { authenticate, reply } from './authenticated.js';

/** The raw handler: caller, method, page. Exported for tests. */
export async function handleDashboard(req: Request, res: Response, deps: DashboardFunctionDeps): Promise<void> {
  // Authenticate before anything else: an anonymous caller learns nothing about the fleet.
  const caller = await authenticate(req, res, deps, 'mi-dashboard');
  if (caller === undefined) return;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.set('Allow', 'GET, HEAD');
    reply(res, 405, { error: 'method-not-allowed', message: `${req.method} is not allowed: the dashboard is read-only (GET its pages)` });
    return;
  }
  let page;
  try {
    page = await deps.dashboard.renderPage(req.path, req.query);
  } catch (error) {
    if (error instanceof ControlPlaneError && error.retryable) {
      res.status(503).set('Cache-Control', 'no-store').set('Retry-After', '5').type('text/plain').send(`the dashboard could not read the control plane's state now (${error.message}); reload the page`);
      return;
    }
    throw error;
  }
  res
    .status(page.status)
    .set('Cache-Control', 'no-store')
    // Nothing of ours runs in the page, and nothing may frame it.
    .set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .set('X-Content-Type-Options', 'nosniff')
    .set('Referrer-Policy', 'no-referrer')
    .type('html')
    .send(page.html);
}
