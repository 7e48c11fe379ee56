/**
 * Registers every function of the topology with the functions framework. In the cloud the
 * engine is built from the environment on first use; `mi dev` and tests call useEngine() first.
 */
import { buildProductionEngine } from './production.js';
import { buildEngineWith } from './wiring.js';
import './lifecycle.js';
import './reconcile.js';
import './executor-results.js';

buildEngineWith(() => buildProductionEngine());
