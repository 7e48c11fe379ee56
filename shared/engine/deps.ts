import type { EngineTimings } from '../domain/lifecycle/operations.js';
import type { AcceptancePolicy } from '../domain/lifecycle/acceptance.js';
import type { Clock, CloudSqlPort, EventBus, ExecutorPort, GkeBackupPort, HealthPort, StateStore } from '../ports.js';
import type { Logger } from '../log.js';

/** Everything the engine needs from the world, wired once per entry point. */
export interface EngineDeps {
  store: StateStore;
  bus: EventBus;
  cloudSql: CloudSqlPort;
  gkeBackup: GkeBackupPort;
  executor: ExecutorPort;
  /** The instances' own health and version endpoints, probed by the upgrade's gates. */
  health: HealthPort;
  clock: Clock;
  timings: EngineTimings;
  /** Central backup project, dev lifetime, final backup retention. */
  policy: AcceptancePolicy;
  log: Logger;
}
