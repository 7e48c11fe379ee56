/** What the webhook is configured with and what it talks to, and the plain request and answer it handles. */
import type { Logger } from '../log.js';
import type { Clock, EventBus, StateStore } from '../ports.js';

/** GitHub stops delivering payloads above 25 MB; anything bigger did not come from it. */
export const MAX_WEBHOOK_BODY_BYTES = 25 * 1024 * 1024;

export interface WebhookConfig {
  /** The shared secret GitHub signs with. */
  secret: string;
  /** owner/name of the deployment repository; pushes to any other are ignored. */
  repository: string;
  /** The branch whose pushes are merges; default: the repository's default branch as the payload names it. */
  branch?: string;
  maxBodyBytes?: number;
  /** File-list caps past which the two commits are compared instead (tests lower them). */
  caps?: { commits: number; filesPerCommit: number };
  /** The control plane's own GitHub login (its token's): its write-back pushes are not acted on again. */
  botLogin?: string;
}

export interface WebhookDeps {
  store: StateStore;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  config: WebhookConfig;
}

/** What the HTTP layer hands over: headers by lowercase name, and the bytes as received. */
export interface WebhookRequest {
  method: string;
  header(name: string): string | undefined;
  rawBody: Buffer | undefined;
}

export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Refuses to build a handler without a secret (or with one too short to mean anything). */
export function checkWebhookConfig(config: Partial<WebhookConfig>): WebhookConfig {
  if (typeof config.secret !== 'string' || config.secret.trim().length < 16) {
    throw new Error('no webhook secret configured (MI_WEBHOOK_SECRET, at least 16 characters): the githubWebhook function will not start without one');
  }
  if (typeof config.repository !== 'string' || !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(config.repository)) {
    throw new Error('no deployment repository configured (MI_DEPLOYMENT_REPOSITORY=owner/name)');
  }
  return { ...config, secret: config.secret, repository: config.repository };
}
