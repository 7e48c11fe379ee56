/**
 * Where the deployment-repository functions (githubWebhook, deployments, applyConfirmations) get
 * their dependencies: handed in by `mi dev` and tests, or built from the environment on first use
 * in the cloud (deployments-production.ts).
 */
import type { DeploymentsConsumer } from '../shared/deployments/consumer.js';
import type { WebhookDeps } from '../shared/deployments/webhook.js';
import type { IdentityPort } from '../shared/ports.js';
import { lazily } from './wiring.js';

/** What the confirmations function needs: who is calling, and the consumer that records the confirmation. */
export interface ConfirmationDeps {
  identity: IdentityPort;
  confirmer: Pick<DeploymentsConsumer, 'confirm'>;
  /** The audience ID tokens must be for: the function's URL in the cloud. */
  audience: string;
}

const webhookDeps = lazily<WebhookDeps>('githubWebhook wiring', 'useWebhook() or buildWebhookWith()');
const consumers = lazily<DeploymentsConsumer>('deployments consumer', 'useDeployments() or buildDeploymentsWith()');
const confirmationDeps = lazily<ConfirmationDeps>('applyConfirmations wiring', 'useConfirmations() or buildConfirmationsWith()');

export const useWebhook = (deps: WebhookDeps): void => webhookDeps.use(deps);
export const buildWebhookWith = (factory: () => Promise<WebhookDeps>): void => webhookDeps.buildWith(factory);
export const webhook = (): Promise<WebhookDeps> => webhookDeps.get();

export const useDeployments = (consumer: DeploymentsConsumer): void => consumers.use(consumer);
export const buildDeploymentsWith = (factory: () => Promise<DeploymentsConsumer>): void => consumers.buildWith(factory);
export const deployments = (): Promise<DeploymentsConsumer> => consumers.get();

export const useConfirmations = (deps: ConfirmationDeps): void => confirmationDeps.use(deps);
export const buildConfirmationsWith = (factory: () => Promise<ConfirmationDeps>): void => confirmationDeps.buildWith(factory);
export const confirmations = (): Promise<ConfirmationDeps> => confirmationDeps.get();
