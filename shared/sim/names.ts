/**
 * The simulated fleet names resources exactly as the control plane does: the naming rules live
 * once, in shared/domain/resource-names.ts.
 */
export { backupChannelFor, backupRegionFor, projectIdFor, resourceNamesFor } from '../domain/lifecycle/resource-names.js';
