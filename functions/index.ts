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

buildEngineWith(() => buildProductionEngine());
buildApprovalsWith(() => buildProductionApprovals());
