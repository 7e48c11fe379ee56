import { describe, expect, it } from 'vitest';
import { instanceHere } from '../../cli/working-instance.js';

describe('the instance mi stands in', () => {
  it.each([
    ['/src/deployments/environments/prod/deployments/cus-acme', 'cus-acme'],
    ['/src/deployments/environments/dev/deployments/dev-alice/terraform/stacks/networking', 'dev-alice'],
    // A checkout kept under a folder that is itself called environments: the innermost layout counts.
    ['/environments/x/environments/prod/deployments/cus-globex/config', 'cus-globex'],
  ])('%s is %s', (dir, id) => {
    expect(instanceHere(dir)?.instanceId).toBe(id);
  });

  it.each(['/src/deployments', '/src/deployments/environments/prod/deployments', '/src/environments/staging/deployments/cus-acme', '/src/environments/prod/deployments/Not_An_Id'])('%s is none', (dir) => {
    expect(instanceHere(dir)).toBeUndefined();
  });
});
