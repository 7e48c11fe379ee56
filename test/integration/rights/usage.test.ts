/**
 * Rights derived from use: every function is driven through its real service code with its
 * ports recorded (exercise.ts), and the Pulumi program is run on mocks; then every topic a
 * function published to and every service it called must be granted to that function's own
 * account by the program, and every grant the program makes must have been used.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../../shared/domain/lifecycle/acceptance.js';
import { FUNCTIONS } from '../../../shared/topology.js';
import { UsageRecorder, type FunctionUsage } from '../../support/usage.js';
import { runProgram, TEST_SETTINGS, type Registered } from '../../infra/support.js';
import { exerciseEveryFunction } from './exercise.js';

/** A gkeBackup call that names the central backup project acts there, not in an instance's project. */
const recorder = new UsageRecorder({
  placeOf: (service, _method, args) =>
    service === 'gkeBackup' && typeof args[0] === 'string' && args[0].startsWith(`projects/${DEFAULT_POLICY.centralBackupProject}/`) ? 'central' : undefined,
});
let usage: Record<string, FunctionUsage>;
const registered: Registered[] = [];
const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

beforeAll(async () => {
  await exerciseEveryFunction(recorder, import.meta.url);
  usage = recorder.usage();
  if (process.env.MI_PRINT_USAGE) process.stdout.write(`${JSON.stringify(usage, null, 2)}\n`);
  await runProgram(registered);
}, 300_000);

/** What the program grants a function's account, as `topic <name>`, `instances <role>`, `central <role>`, `project <role>`, `plans <role>`. */
function grantedTo(fn: string): string[] {
  const member = `serviceAccount:mi-fn-${kebab(fn)}@${TEST_SETTINGS.project}.iam.gserviceaccount.com`;
  return registered
    .filter((r) => r.inputs.member === member)
    .map((g) => {
      const role = String(g.inputs.role);
      if (g.type === 'gcp:pubsub/topicIAMMember:TopicIAMMember') return `topic ${String(g.inputs.topic)}`;
      if (g.type === 'gcp:folder/iAMMember:IAMMember') return `instances ${role}`;
      if (g.type === 'gcp:secretmanager/secretIamMember:SecretIamMember') return `secret ${String(g.inputs.secretId)}`;
      if (g.type === 'gcp:projects/iAMMember:IAMMember') {
        if (g.inputs.project === TEST_SETTINGS.centralBackupProject) return `central ${role}`;
        // Conditioned on the database's name: the restore drill's scratch databases only.
        return g.inputs.condition === undefined ? `project ${role}` : `scratch-databases ${role}`;
      }
      if (g.type === 'gcp:serviceaccount/iAMMember:IAMMember') return `build-accounts ${role}`;
      if (g.type === 'gcp:storage/bucketIAMMember:BucketIAMMember') return `${String(g.inputs.bucket).startsWith('evidence') ? 'evidence' : 'plans'} ${role}`;
      return `${g.type} ${role}`;
    })
    .filter((grant, i, all) => all.indexOf(grant) === i)
    .sort();
}

/** What the recorded use needs: a publisher grant per topic; admin to change a service, viewer to read it. */
function neededBy(use: FunctionUsage): string[] {
  const needs = new Set(use.publishes.map((topic) => `topic ${topic}`));
  // Firestore is recorded where a function declares it only reads it: a write would need the user role.
  const firestore = use.calls.firestore ?? [];
  if (firestore.length > 0) needs.add(`project ${firestore.some((m) => !/^(get|query|queryIds|count)$/.test(m)) ? 'roles/datastore.user' : 'roles/datastore.viewer'}`);
  const level = (methods: readonly string[], admin: string, viewer: string) => (methods.some((m) => !/^(get|list)/.test(m)) ? admin : viewer);
  const split = (methods: readonly string[] = []) => ({ here: methods.filter((m) => !m.endsWith('@central')), central: methods.filter((m) => m.endsWith('@central')) });
  const sql = use.calls.cloudSql ?? [];
  if (sql.length > 0) needs.add(`instances ${level(sql, 'roles/cloudsql.admin', 'roles/cloudsql.viewer')}`);
  const gke = split(use.calls.gkeBackup);
  if (gke.here.length > 0) needs.add(`instances ${level(gke.here, 'roles/gkebackup.admin', 'roles/gkebackup.viewer')}`);
  if (gke.central.length > 0) needs.add(`central ${level(gke.central, 'roles/gkebackup.admin', 'roles/gkebackup.viewer')}`);
  if ((use.calls.scheduler ?? []).length > 0) needs.add('project roles/cloudscheduler.viewer');
  if ((use.calls.access ?? []).length > 0) needs.add('instances roles/privilegedaccessmanager.viewer');
  if ((use.calls.iamPolicies ?? []).length > 0) needs.add('instances roles/iam.securityReviewer');
  if ((use.calls.plans ?? []).length > 0) needs.add('plans roles/storage.objectViewer');
  // The evidence bucket: objects.insert needs objectCreator; reading an anchor back, objectViewer.
  const evidence = use.calls.evidence ?? [];
  if (evidence.includes('create')) needs.add('evidence roles/storage.objectCreator');
  if (evidence.includes('read')) needs.add('evidence roles/storage.objectViewer');
  // The drill of the control plane's database: list, restore and follow with restoreAdmin; delete (scratch databases only) needs owner.
  const admin = use.calls.firestoreAdmin ?? [];
  if (admin.some((m) => /^(listBackups|restoreDatabase|getOperation|listOperations)$/.test(m))) needs.add('project roles/datastore.restoreAdmin');
  if (admin.includes('deleteDatabase')) needs.add('scratch-databases roles/datastore.owner');
  // Creating a build that runs as a build account needs the editor role and acting as those accounts.
  const builds = use.calls.builds ?? [];
  if (builds.some((m) => m.startsWith('create'))) needs.add('project roles/cloudbuild.builds.editor').add('build-accounts roles/iam.serviceAccountUser');
  else if (builds.length > 0) needs.add('project roles/cloudbuild.builds.viewer');
  return [...needs].sort();
}

/**
 * Grants a recorded run cannot show: Firestore's user role (every function that decides
 * anything reads and writes it; only a read-only function's store is recorded), and secrets
 * (read at start, checked by test/infra/environment.test.ts).
 */
const notRecorded = (grant: string, use: FunctionUsage | undefined) => (grant === 'project roles/datastore.user' && use?.calls.firestore === undefined) || grant.startsWith('secret ');

describe('rights derived from use', () => {
  it('every function of the topology was driven, and used something', () => {
    const shown = JSON.stringify(usage, null, 2);
    const unused = FUNCTIONS.map((f) => f.name).filter((name) => {
      const u = usage[name];
      return u === undefined || u.publishes.length + Object.values(u.calls).flat().length === 0;
    });
    expect(unused, `functions without recorded usage; recorded:\n${shown}`).toEqual([]);
    expect(Object.keys(usage).sort(), `functions recorded that the topology does not have; recorded:\n${shown}`).toEqual(FUNCTIONS.map((f) => f.name).sort());
  });

  it.each(FUNCTIONS.map((fn) => fn.name))('%s: everything it touched is granted to its account by the program', (fn) => {
    const granted = grantedTo(fn);
    const missing = neededBy(usage[fn] ?? { publishes: [], calls: {} }).filter((need) => !granted.includes(need));
    expect(missing, `${fn} touches what the program does not grant it (declare it in its uses in shared/topology.ts): ${missing.join(', ')}; it used ${JSON.stringify(usage[fn])}`).toEqual([]);
  });

  it.each(FUNCTIONS.map((fn) => fn.name))('%s: every grant the program makes it was used', (fn) => {
    const needed = neededBy(usage[fn] ?? { publishes: [], calls: {} });
    const unused = grantedTo(fn).filter((grant) => !notRecorded(grant, usage[fn]) && !needed.includes(grant));
    expect(unused, `the program grants ${fn} what it never used (remove it from its uses in shared/topology.ts): ${unused.join(', ')}`).toEqual([]);
  });

  it('reads the same usage every time it is asked', () => {
    expect(recorder.usage()).toEqual(usage);
  });
});
