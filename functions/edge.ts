/**
 * Registers a Pub/Sub-fed function with the functions framework: its messages go through the one
 * edge (shared/edge.ts) to the route the topology's name has in shared/routes.ts.
 */
import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { deliver } from '../shared/edge.js';
import { traceOfCloudEvent, withLogContext } from '../shared/log.js';
import { ROUTES } from '../shared/routes.js';
import { services } from './wiring.js';

/** Registers `name`; the handler (exported for tests) throws only for Pub/Sub to redeliver. */
export function onMessagePublished(name: keyof typeof ROUTES): (event: CloudEvent<unknown>) => Promise<void> {
  const handler = async (event: CloudEvent<unknown>): Promise<void> => {
    // Every line logged for this message carries its trace and, once decoded, what it is about.
    await withLogContext({ trace: traceOfCloudEvent(event), labels: { function: name } }, async () => {
      const wiredServices = await services();
      await deliver(wiredServices.ports, ROUTES[name](wiredServices), event);
    });
  };
  functions.cloudEvent(name, handler);
  return handler;
}
