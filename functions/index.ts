/** Registers every function of the topology with the functions framework. */
import './lifecycle.js';
import './reconcile.js';
import './executor-results.js';
