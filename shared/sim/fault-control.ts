/**
 * Faults a person injects into the simulated fleet (`mi dev fault`), named by service, instance
 * and what goes wrong, each through the simulator's own API: a scripted outcome of the next
 * backup, a build that fails a step, an application that answers 503 on the version the next
 * upgrade deploys. The code under test meets them only as what those APIs answer. What is
 * pending is read back from the simulators themselves, so a list is never a separate record
 * that could drift from what will happen.
 */
import { z } from 'zod';
import { instanceIdSchema } from '../events/instance.js';
import type { SimulatedFleet } from './index.js';
import { resourceNamesFor } from './names.js';

/** Every fault by service, with what it does (the sentence `mi dev fault --help` and a refusal print). */
export const FAULT_CATALOGUE = {
  'cloud-sql': {
    'backup-fails': "the instance's next Cloud SQL backup run ends FAILED",
  },
  'gke-backup': {
    'backup-fails': "the instance's next Backup for GKE backup ends FAILED",
  },
  executor: {
    'upgrade-unhealthy': 'the version the next upgrade deploys answers its health check 503 (until cleared)',
    'upgrade-fails': 'the next upgrade build fails at its rollout-status step',
  },
} as const satisfies Record<string, Record<string, string>>;

export type FaultService = keyof typeof FAULT_CATALOGUE;
export const FAULT_SERVICES = Object.keys(FAULT_CATALOGUE) as FaultService[];

function whatOf(service: FaultService): string[] {
  return Object.keys(FAULT_CATALOGUE[service]);
}

export const faultServiceSchema = z.enum(FAULT_SERVICES as [FaultService, ...FaultService[]], { error: `expected a service: ${FAULT_SERVICES.join(', ')}` });

/** `service instance what`, the fault checked against the service's catalogue. */
export const faultRequestSchema = z
  .object({ service: faultServiceSchema, instance: instanceIdSchema, what: z.string({ error: 'expected what fails' }) })
  .superRefine((request, ctx) => {
    const known = whatOf(request.service);
    if (!known.includes(request.what)) ctx.addIssue({ code: 'custom', path: ['what'], message: `expected what fails in ${request.service}: ${known.join(', ')}` });
  });
export type FaultRequest = z.infer<typeof faultRequestSchema>;

/** Which faults to clear: all, one service's, or one instance's (of one service, or of all). */
export const faultClearSchema = z.object({ service: faultServiceSchema.optional(), instance: instanceIdSchema.optional() });
export type FaultClear = z.infer<typeof faultClearSchema>;

export const injectedFaultSchema = z.object({
  service: faultServiceSchema,
  instance: instanceIdSchema,
  what: z.string(),
  /** What the simulator holds for it, in its own words. */
  detail: z.string(),
});
export type InjectedFault = z.infer<typeof injectedFaultSchema>;

export const faultListSchema = z.object({ faults: z.array(injectedFaultSchema) });
export const faultClearedSchema = z.object({ cleared: z.number().int().min(0) });

/** An instance of the fleet, as far as faults need it. */
export interface FaultTarget {
  id: string;
  region: string;
  domain: string;
}

/** Thrown for an instance the fleet does not have; the HTTP edge answers 404 with its message. */
export class UnknownFaultTarget extends Error {
  constructor(instance: string, known: readonly string[]) {
    super(`no instance ${instance} in the simulated fleet; it has ${known.length === 0 ? 'none' : known.join(', ')}`);
    this.name = 'UnknownFaultTarget';
  }
}

export interface FaultControl {
  inject(request: FaultRequest): Promise<InjectedFault>;
  list(): Promise<InjectedFault[]>;
  clear(filter: FaultClear): Promise<number>;
}

const INJECTED = 'injected by mi dev fault';

/** Fault control over `fleet`, for the instances `targets` answers (the control plane's own records). */
export function createFaultControl(fleet: SimulatedFleet, targets: () => Promise<FaultTarget[]>): FaultControl {
  const find = async (instance: string): Promise<FaultTarget> => {
    const all = await targets();
    const target = all.find((t) => t.id === instance);
    if (target === undefined) throw new UnknownFaultTarget(instance, all.map((t) => t.id).sort());
    return target;
  };

  const faultsOf = (target: FaultTarget): InjectedFault[] => {
    const names = resourceNamesFor(target.id, target.region);
    const found: InjectedFault[] = [];
    const add = (service: FaultService, what: string, detail: string) => found.push({ service, instance: target.id, what, detail });
    for (const script of fleet.cloudSql.scriptedBackupOutcomes(names.project, names.sqlInstance)) {
      if (script.status === 'FAILED') add('cloud-sql', 'backup-fails', `next backup run of ${names.sqlInstance} ends FAILED: ${script.reason}`);
    }
    for (const script of fleet.gkeBackup.scriptedBackupOutcomes(names.backupPlan)) {
      if (script.state === 'FAILED') add('gke-backup', 'backup-fails', `next backup in ${names.backupPlan} ends FAILED: ${script.reason}`);
    }
    const app = fleet.applications.faultsOn(target.domain);
    if (app.nextDeploy !== undefined) add('executor', 'upgrade-unhealthy', `the next version deployed on ${target.domain} answers ${app.nextDeploy}`);
    for (const broken of app.versions) add('executor', 'upgrade-unhealthy', `${broken.version} on ${target.domain} answers ${broken.how}`);
    for (const script of fleet.cloudBuild.scriptsFor(target.id)) {
      if (script.matcher.action === 'upgrade' && script.script.kind === 'fail-step') add('executor', 'upgrade-fails', `next ${script.remaining} upgrade build(s) fail at ${script.script.step}`);
    }
    return found;
  };

  const clearOn = (target: FaultTarget, service: FaultService | undefined): number => {
    const names = resourceNamesFor(target.id, target.region);
    let cleared = 0;
    if (service === undefined || service === 'cloud-sql') cleared += fleet.cloudSql.clearScriptedBackupOutcomes(names.project, names.sqlInstance);
    if (service === undefined || service === 'gke-backup') cleared += fleet.gkeBackup.clearScriptedBackupOutcomes(names.backupPlan);
    if (service === undefined || service === 'executor') {
      const app = fleet.applications.faultsOn(target.domain);
      cleared += app.versions.length + (app.nextDeploy === undefined ? 0 : 1) + (app.probes === undefined ? 0 : 1);
      fleet.applications.clearFaults(target.domain);
      cleared += fleet.cloudBuild.clearScriptsFor(target.id);
    }
    return cleared;
  };

  return {
    async inject(request) {
      const target = await find(request.instance);
      const names = resourceNamesFor(target.id, target.region);
      switch (`${request.service} ${request.what}`) {
        case 'cloud-sql backup-fails':
          fleet.cloudSql.scriptBackupOutcome(names.project, names.sqlInstance, 'FAILED', `backup failed (${INJECTED})`);
          break;
        case 'gke-backup backup-fails':
          fleet.gkeBackup.scriptBackupOutcome(names.backupPlan, 'FAILED', `backup failed (${INJECTED})`);
          break;
        case 'executor upgrade-unhealthy':
          fleet.applications.breakNextDeploy(target.domain, 'unhealthy');
          break;
        case 'executor upgrade-fails':
          fleet.cloudBuild.script({ instanceId: target.id, action: 'upgrade' }, { kind: 'fail-step', step: 'rollout-status', detail: `deployment "app" exceeded its progress deadline (${INJECTED})` });
          break;
        default:
          // faultRequestSchema admits only the catalogue's faults: a new entry needs its case here.
          throw new Error(`no way to inject ${request.service} ${request.what}`);
      }
      return { service: request.service, instance: target.id, what: request.what, detail: FAULT_CATALOGUE[request.service][request.what as never] };
    },
    async list() {
      return (await targets()).sort((a, b) => a.id.localeCompare(b.id)).flatMap(faultsOf);
    },
    async clear(filter) {
      const chosen = filter.instance === undefined ? await targets() : [await find(filter.instance)];
      return chosen.reduce((sum, target) => sum + clearOn(target, filter.service), 0);
    },
  };
}
