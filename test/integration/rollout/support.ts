/**
 * A simulated fleet for rollout tests: the engine fixture (emulators, simulated Cloud SQL,
 * Backup for GKE and executor on a ManualClock) with dev, internal and customer instances,
 * and the in-process driver that delivers what everything publishes.
 */
import type { InstanceRecord, MaintenanceWindow } from '../../../shared/events/index.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { createRolloutDriver, type RolloutDriver } from '../../../harness/rollout-driver.js';
import type { RolloutRecord } from '../../../shared/domain/rollout/index.js';
import type { Engine } from '../../../shared/engine/index.js';
import { rolloutPaths } from '../../../shared/store/collections.js';

export const ALWAYS_OPEN: MaintenanceWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', hours: 24, timeZone: 'Etc/UTC' };

export interface RolloutWorld {
  fixture: EngineFixture;
  driver: RolloutDriver & { engine: Engine };
  instances: InstanceRecord[];
  rollout(id: string): Promise<RolloutRecord>;
  /** Rounds of `stepMs` (30) simulated seconds until `done` says so (or the rounds run out). */
  driveUntil(id: string, done: (r: RolloutRecord) => boolean, rounds?: number, stepMs?: number): Promise<RolloutRecord>;
  close(): Promise<void>;
}

/** `fleet` instances of each kind, seeded on the emulator and in the simulated fleet. */
export async function createRolloutWorld(fileUrl: string, suffix: string, fleet: { dev: number; internal: number; customers: number }): Promise<RolloutWorld> {
  const fixture = await createEngineFixture(fileUrl, { suffix });
  const specs: Array<Partial<InstanceRecord>> = [
    ...Array.from({ length: fleet.dev }, (_, i) => ({ id: `dev-${suffix}-${i}`, environment: 'dev' as const, tier: 'internal' as const })),
    ...Array.from({ length: fleet.internal }, (_, i) => ({ id: `int-${suffix}-${i}`, environment: 'prod' as const, tier: 'internal' as const })),
    ...Array.from({ length: fleet.customers }, (_, i) => ({ id: `cus-${suffix}-${i}`, environment: 'prod' as const, tier: 'customer' as const, maintenanceWindow: ALWAYS_OPEN })),
  ];
  const instances: InstanceRecord[] = [];
  for (let i = 0; i < specs.length; i += 50) {
    instances.push(
      ...(await Promise.all(
        specs.slice(i, i + 50).map((spec) => {
          // Dev and internal instances have no window in the fleet's records.
          const { maintenanceWindow, ...rest } = { maintenanceWindow: undefined as MaintenanceWindow | undefined, ...spec };
          return fixture.seedInstance(maintenanceWindow === undefined ? { ...rest, maintenanceWindow: undefined } : { ...rest, maintenanceWindow });
        }),
      )),
    );
  }
  const driver = createRolloutDriver({
    engineFor: (bus) => fixture.engineWith({ bus }),
    executor: fixture.fleet.executor,
    rolloutDeps: {
      store: fixture.store,
      clock: fixture.clock,
      // A deferred tick waits on the simulated clock, which then moves on.
      sleep: (ms) => {
        fixture.clock.advance(ms);
        return Promise.resolve();
      },
    },
    concurrency: 24,
  });
  const world: RolloutWorld = {
    fixture,
    driver,
    instances,
    async rollout(id) {
      const found = await fixture.store.get<RolloutRecord>(rolloutPaths.rollout(id));
      if (found === undefined) throw new Error(`no rollout ${id}`);
      return found;
    },
    async driveUntil(id, done, rounds = 200, stepMs = 30_000) {
      for (let round = 0; round < rounds; round += 1) {
        await driver.pump();
        const current = await world.rollout(id);
        if (done(current)) return current;
        fixture.clock.advance(stepMs);
        await driver.round();
        // The schedule, every few rounds: soak times and retries move on without a finish.
        if (round % 5 === 4) await driver.rollouts.tickAll();
      }
      return world.rollout(id);
    },
    close: () => fixture.close(),
  };
  return world;
}
