/**
 * Registers every function of the topology with the functions framework. In the cloud the
 * engine (and the approvals wiring) is built from the environment on first use; `mi dev` and
 * tests call useEngine() (and useApprovals()) first.
 */
import { buildProductionApprovals, buildProductionEngine } from './production.js';
import { buildApprovalsWith, buildEngineWith } from './wiring.js';
import './lifecycle.js';
import './reconcile.js';
import './executor-results.js';
import './approvals.js';
import './compliance-schedule.js';
import './compliance-check.js';
import { buildComplianceWith } from './compliance-wiring.js';
import { buildProductionCompliance } from './compliance-production.js';
import './rollout.js';
import './rollout-events.js';
import './github-webhook.js';
import './deployments.js';
import './apply-confirmations.js';
import { buildConfirmationsWith, buildDeploymentsWith, buildWebhookWith } from './deployments-wiring.js';
import { buildProductionConfirmations, buildProductionDeployments, buildProductionWebhook } from './deployments-production.js';

buildEngineWith(() => buildProductionEngine());
buildApprovalsWith(() => buildProductionApprovals());
buildComplianceWith(() => buildProductionCompliance());
buildWebhookWith(() => buildProductionWebhook());
buildDeploymentsWith(() => buildProductionDeployments());
buildConfirmationsWith(() => buildProductionConfirmations());
