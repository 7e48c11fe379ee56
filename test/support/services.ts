/**
 * Services for tests that hand one function its dependencies: built on the given ports by the
 * one composition root (every port not given refuses), with any part replaced.
 */
import { systemClock } from '../../shared/ports.js';
import { silentLogger } from '../../shared/log.js';
import { createServices, notGranted, type Ports, type Services, type ServicesConfig } from '../../shared/services.js';

export function servicesWith(parts: Partial<Services>, ports: Partial<Ports> = {}, config: Partial<ServicesConfig> = {}): Services {
  const all: Ports = {
    store: notGranted('Firestore', 'this test'),
    bus: notGranted('Pub/Sub', 'this test'),
    clock: systemClock,
    log: silentLogger,
    cloudSql: notGranted('Cloud SQL', 'this test'),
    gkeBackup: notGranted('Backup for GKE', 'this test'),
    executor: notGranted('the executor', 'this test'),
    health: notGranted("the instances' health endpoints", 'this test'),
    scheduler: notGranted('Cloud Scheduler', 'this test'),
    repo: notGranted('the deployment repository', 'this test'),
    identity: notGranted('ID token verification', 'this test'),
    access: notGranted('Privileged Access Manager', 'this test'),
    iamPolicies: notGranted('IAM policies', 'this test'),
    plans: notGranted('the plans buckets', 'this test'),
    evidence: notGranted('the evidence bucket', 'this test'),
    firestoreAdmin: notGranted('the Firestore Admin API', 'this test'),
    slack: notGranted('Slack', 'this test'),
    pager: notGranted('OpsGenie', 'this test'),
    ...ports,
  };
  const built = createServices(all, { schedulerParent: 'projects/test/locations/us-central1', callers: { audiences: [] }, ...config });
  return { ...built, ...parts, ports: all };
}
