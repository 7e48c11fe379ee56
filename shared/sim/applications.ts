/**
 * The instances' applications, as their health and version endpoints answer: an application
 * runs where the executor deployed it (provision, upgrade) and is gone when it destroyed it;
 * after each deploy it warms up (503 until ready), then answers healthy on the version it runs.
 * Faults are what the application does, never a flag the caller reads: a version that is broken
 * on an instance (whenever it runs there, it fails its health check, or the rollout did not take
 * and it keeps reporting the version before), and an application failing now, for a number of
 * probes (unhealthy, or too slow to answer before the caller's timeout).
 */
import type { Clock, HealthPort, HttpAnswer } from '../ports.js';
import { captureFields, restoreFields, type SimState } from './state.js';

export type BrokenVersion = 'unhealthy' | 'wrong-version' | 'timeout';
export type FailingNow = 'unhealthy' | 'timeout';

export interface ApplicationsSimOptions {
  clock: Clock;
  healthPath?: string;
  versionPath?: string;
  /** How long a freshly deployed application answers 503 before it is ready. */
  warmupMs?: number;
  /** How long an answer takes. */
  latencyMs?: number;
}

interface Application {
  version: string;
  previous: string | null;
  readyAt: number;
}

/** One request the applications answered, for tests (and `mi dev`) to read back. */
export interface ApplicationRequest {
  at: string;
  domain: string;
  path: string;
  status: number | null;
}

/** The fields exportState keeps. */
const APPLICATIONS_STATE_FIELDS = ['apps', 'domains', 'broken', 'failing', 'nextDeployBroken'] as const;

export class SimulatedApplications implements HealthPort {
  private readonly apps = new Map<string, Application>();
  /** Where each instance's application is served (a build that names no domain finds it here). */
  private readonly domains = new Map<string, string>();
  private readonly broken = new Map<string, BrokenVersion>();
  private readonly failing = new Map<string, { how: FailingNow; remaining: number }>();
  /** The next version deployed on a domain answers this way (a release that is broken on this instance). */
  private readonly nextDeployBroken = new Map<string, BrokenVersion>();
  private readonly log: ApplicationRequest[] = [];

  constructor(private readonly options: ApplicationsSimOptions) {}

  /** Its world as plain data (state.ts); the request log is an observation, not part of it. */
  exportState(): SimState {
    return captureFields(this, APPLICATIONS_STATE_FIELDS);
  }

  /** Puts a world taken by exportState back. */
  importState(state: SimState): void {
    restoreFields(this, APPLICATIONS_STATE_FIELDS, state);
  }

  // ------------------------------------------------------------------ the world (executor effects, seeds)

  /** The application now runs `version` on `domain` (warming up first unless `ready`). */
  deploy(domain: string, version: string, options: { ready?: boolean; instanceId?: string } = {}): void {
    if (options.instanceId !== undefined && options.instanceId !== '') this.domains.set(options.instanceId, domain);
    const now = this.options.clock.now().getTime();
    const before = this.apps.get(domain);
    const broken = this.nextDeployBroken.get(domain);
    if (broken !== undefined) {
      this.nextDeployBroken.delete(domain);
      this.broken.set(`${domain} ${version}`, broken);
    }
    this.apps.set(domain, { version, previous: before?.version ?? null, readyAt: options.ready === true ? now : now + (this.options.warmupMs ?? 20_000) });
  }

  /** The domain an instance's application was deployed on. */
  domainOf(instanceId: string): string | undefined {
    return this.domains.get(instanceId);
  }

  remove(domain: string): void {
    this.apps.delete(domain);
  }

  /** The version running on `domain`, as deployed (not as it may report). */
  versionOn(domain: string): string | undefined {
    return this.apps.get(domain)?.version;
  }

  // ------------------------------------------------------------------ faults

  /** Whenever `version` runs on `domain`, the application answers this way (until cleared). */
  breakVersion(domain: string, version: string, how: BrokenVersion): void {
    this.broken.set(`${domain} ${version}`, how);
  }

  /** The next `probes` health requests to `domain` fail this way (Infinity: until cleared). */
  failNow(domain: string, how: FailingNow, probes = Infinity): void {
    this.failing.set(domain, { how, remaining: probes });
  }

  /** The next version deployed on `domain` answers this way whenever it runs (until cleared). */
  breakNextDeploy(domain: string, how: BrokenVersion): void {
    this.nextDeployBroken.set(domain, how);
  }

  /** The faults set on `domain`: waiting for its next deploy, on versions, on the next probes. */
  faultsOn(domain: string): { nextDeploy?: BrokenVersion; versions: Array<{ version: string; how: BrokenVersion }>; probes?: { how: FailingNow; remaining: number } } {
    const next = this.nextDeployBroken.get(domain);
    const probes = this.failing.get(domain);
    const versions = [...this.broken.entries()].filter(([key]) => key.startsWith(`${domain} `)).map(([key, how]) => ({ version: key.slice(domain.length + 1), how }));
    return { versions, ...(next === undefined ? {} : { nextDeploy: next }), ...(probes === undefined ? {} : { probes: { ...probes } }) };
  }

  clearFaults(domain: string): void {
    this.failing.delete(domain);
    this.nextDeployBroken.delete(domain);
    for (const key of [...this.broken.keys()]) if (key.startsWith(`${domain} `)) this.broken.delete(key);
  }

  requests(): ApplicationRequest[] {
    return this.log.map((r) => ({ ...r }));
  }

  // ------------------------------------------------------------------ the port

  get(url: string, options: { timeoutMs: number }): Promise<HttpAnswer> {
    const parsed = new URL(url);
    return Promise.resolve(this.answer(parsed.hostname, parsed.pathname, options.timeoutMs, url));
  }

  /** What `GET <path>` on the application of `domain` answers (the HTTP server calls this too). */
  answer(domain: string, path: string, timeoutMs: number, url = `https://${domain}${path}`): HttpAnswer {
    const latencyMs = this.options.latencyMs ?? 40;
    const reply = (status: number | null, body: string, error: string | null = null, took = latencyMs): HttpAnswer => {
      this.log.push({ at: this.options.clock.now().toISOString(), domain, path, status });
      return { url, status, body, latencyMs: took, error };
    };
    const app = this.apps.get(domain);
    if (app === undefined) return reply(null, '', `getaddrinfo ENOTFOUND ${domain}`);
    const healthPath = this.options.healthPath ?? '/healthz';
    const versionPath = this.options.versionPath ?? '/version';
    if (path !== healthPath && path !== versionPath) return reply(404, 'not found');
    const now = this.options.clock.now().getTime();
    const broken = this.broken.get(`${domain} ${app.version}`);
    const failing = this.failing.get(domain);
    if (failing !== undefined && path === healthPath) {
      failing.remaining -= 1;
      if (failing.remaining <= 0) this.failing.delete(domain);
    }
    const how = failing?.how ?? broken;
    if (how === 'timeout') return reply(null, '', `timed out after ${timeoutMs} ms`, timeoutMs);
    if (now < app.readyAt) return reply(503, '{"status":"starting"}');
    if (path === healthPath) {
      return how === 'unhealthy' ? reply(503, '{"status":"failing","checks":{"database":"connection refused"}}') : reply(200, '{"status":"ok"}');
    }
    // The rollout did not take: the pods still run the version before.
    const reported = how === 'wrong-version' && app.previous !== null ? app.previous : app.version;
    return reply(200, JSON.stringify({ version: reported }));
  }
}
