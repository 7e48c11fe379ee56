/**
 * Where every entry point gets its services: built once per process on first use from the
 * environment (the cloud: functions/production.ts), or handed in (`mi dev`, tests).
 */
import type { Services } from '../shared/services.js';

/** One dependency of the entry points: handed in (local stack, tests), or built on first use (the cloud). */
export function lazily<T>(what: string, hint: string) {
  let current: T | undefined;
  let build: (() => Promise<T>) | undefined;
  let building: Promise<T> | undefined;
  return {
    use(value: T): void {
      current = value;
      building = undefined;
    },
    buildWith(factory: () => Promise<T>): void {
      build = factory;
    },
    async get(): Promise<T> {
      if (current) return current;
      if (!build) throw new Error(`no ${what} configured: call ${hint} before serving functions`);
      // A failed build is not kept: the next request tries again (a cold start's network blip).
      building ??= build().then(
        (built) => (current = built),
        (error: unknown) => {
          building = undefined;
          throw error;
        },
      );
      return building;
    },
  };
}

const wired = lazily<Services>('services', 'useServices() or buildServicesWith()');

/** Uses these services for every function of this process (local stack, tests). */
export const useServices = (services: Services): void => wired.use(services);
/** Sets how the services are built on first use (the production entry point). */
export const buildServicesWith = (factory: () => Promise<Services>): void => wired.buildWith(factory);
/** The services of this process, built on first use; a failed build is tried again next time. */
export const services = (): Promise<Services> => wired.get();
