/**
 * The Privileged Access Manager entitlements people get access to the fleet through: one per
 * entry of the access configuration, on its environment's folder. Requesters are the operators;
 * a prod entitlement that is not break-glass waits for one of the approvers (PAM never lets a
 * requester approve their own grant); break-glass tells the approvers at once.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { AccessEnvironment, EntitlementSpec } from '../shared/domain/access/entitlements.js';

export interface AccessArgs {
  entitlements: readonly EntitlementSpec[];
  folders: Readonly<Record<AccessEnvironment, string>>;
  requesters: readonly string[];
  /** Where break-glass grants are announced, besides the approvers. */
  notify: readonly string[];
}

export class AccessEntitlements extends pulumi.ComponentResource {
  readonly names: Record<string, pulumi.Output<string>> = {};

  constructor(name: string, args: AccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:AccessEntitlements', name, {}, opts);
    for (const spec of [...args.entitlements].sort((a, b) => a.id.localeCompare(b.id))) {
      const folder = args.folders[spec.environment];
      const entitlement = new gcp.privilegedaccessmanager.Entitlement(
        spec.id,
        {
          entitlementId: spec.id,
          location: 'global',
          parent: folder,
          maxRequestDuration: `${spec.maxHours * 3600}s`,
          requesterJustificationConfig: { unstructured: {} },
          eligibleUsers: [{ principals: [...args.requesters] }],
          privilegedAccess: {
            gcpIamAccess: {
              resource: `//cloudresourcemanager.googleapis.com/${folder}`,
              resourceType: 'cloudresourcemanager.googleapis.com/Folder',
              roleBindings: spec.iamRoles.map((role) => ({ role })),
            },
          },
          ...(spec.approvers.length === 0
            ? {}
            : { approvalWorkflow: { manualApprovals: { requireApproverJustification: true, steps: [{ approvalsNeeded: 1, approvers: { principals: [...spec.approvers] } }] } } }),
          ...(spec.breakglass && args.notify.length > 0 ? { additionalNotificationTargets: { adminEmailRecipients: [...args.notify] } } : {}),
        },
        { parent: this },
      );
      this.names[spec.id] = entitlement.name;
    }
    this.registerOutputs({ names: this.names });
  }
}
