/**
 * Examples for each command's help, declared once, in the words an on-call engineer types.
 * (A command may write its own richer Examples section, as `workflow run` does; it is not listed here.)
 */
import type { Command } from 'commander';

export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  'instance list': ['mi instance list -e prod --status degraded', 'mi instance list -o wide', 'mi instance list --json | jq -r ".[].id"'],
  'instance get': ['mi instance get cus-acme', 'mi instance get -e prod --slug acme --json | jq -r .metadata.name', 'cd environments/prod/deployments/cus-acme && mi instance get'],
  'instance workon': ['mi instance workon cus-acme', 'mi instance workon cus-acme --exec kubectl get pods -n app', 'mi instance workon cus-acme --exec bash'],
  'instance db proxy': ['mi instance db proxy cus-acme', 'mi instance db proxy cus-acme --port 6543'],
  'instance extend': ['mi instance extend dev-alice --hours 48 --reason "demo on Friday"'],
  backup: ['mi backup cus-acme --wait', 'mi backup cus-acme --note "before the data fix" --json'],
  'backup list': ['mi backup list cus-acme', 'mi backup list cus-acme --json | jq -r ".sql[0].id"'],
  check: ['mi check cus-acme --wait', 'mi check cus-acme --only health --wait'],
  upgrade: ['mi upgrade cus-acme --to 5.5.0 --wait', 'mi upgrade cus-acme --rollback --wait'],
  create: ['mi create -f config.yaml --wait'],
  restore: ['mi restore cus-acme --backup-run 1700000000123 --gke-backup <name> --wait', 'mi restore cus-acme --to-time 2026-11-26T08:00:00Z --wait'],
  delete: ['mi delete dev-alice --wait', 'mi delete cus-acme --confirm acme    # prod: then a second person approves'],
  dr: ['mi dr cus-acme --to-region us-east1 --wait'],
  'op list': ['mi op list --status failed --since 24h', 'mi op list cus-acme --type upgrade -o wide', 'mi op list --status stuck --json'],
  'op get': ['mi op get op-<event id>', 'mi op get op-<event id> --json | jq .failure'],
  'op abandon': ['mi op abandon op-<event id> --reason "the Cloud SQL operation was cancelled by hand"'],
  audit: ['mi audit cus-acme', 'mi audit --op op-<event id> --json'],
  approve: ['mi approve op-<event id>'],
  'apply list': ['mi apply list', 'mi apply list --json'],
  'apply show': ['mi apply show <apply id>'],
  'apply diff': ['mi apply diff --module networking --commit 0123abc', 'mi apply diff --module networking --commit 0123abc --no-plan'],
  'apply confirm': ['mi apply confirm --module networking --commit 0123456789ab', 'mi apply confirm <apply id>'],
  'rollout start': ['mi rollout start --to 5.5.0 --dry-run', 'mi rollout start --to 5.5.0 --reason "November release"'],
  'rollout status': ['mi rollout status --watch', 'mi rollout status ro-<id> --json'],
  'rollout pause': ['mi rollout pause --reason "error rate up in the canary"'],
  'rollout resume': ['mi rollout resume --reason "the failures were the known flaky probe"'],
  'rollout promote': ['mi rollout promote --reason "canary looked good for an hour"'],
  'rollout abort': ['mi rollout abort --reason "5.5.0 breaks SSO"'],
  'workflow status': ['mi workflow status --watch', 'mi workflow status mc-0123456789ab-networking'],
  'workflow output': ['mi workflow output wf-<id>', 'mi workflow output wf-<id> --together', 'mi workflow output wf-<id> --json'],
  'workflow approve': ['mi workflow approve wf-<id> --reason "read the plans"'],
  'workflow pause': ['mi workflow pause wf-<id> --reason "looking at a failure"'],
  'workflow resume': ['mi workflow resume mc-0123456789ab-networking --reason "accepted the failure"'],
  'workflow promote': ['mi workflow promote wf-<id>'],
  'workflow abort': ['mi workflow abort wf-<id> --reason "wrong module"'],
  dev: ['mi dev', 'mi dev --no-seed --port 8090'],
  'dev fault': ['mi dev fault cloud-sql cus-acme backup-fails', 'mi dev fault executor cus-acme upgrade-unhealthy', 'mi dev fault gke-backup dev-alice backup-fails --json'],
  'dev fault list': ['mi dev fault list', 'mi dev fault list --json'],
  'dev fault clear': ['mi dev fault clear', 'mi dev fault clear executor cus-acme'],
  'compliance run': ['mi compliance run --wait'],
  'compliance report': ['mi compliance report --format md', 'mi compliance report --date 2026-11-30 --format html > report.html'],
  'compliance verify': ['mi compliance verify --from 2026-06-01 --to 2026-06-30', 'mi compliance verify --from 2026-11-01 --to 2026-11-30 --format json | jq .firstBreak'],
  'compliance evidence': ['mi compliance evidence --from 2026-01-01 --to 2026-06-30', 'mi compliance evidence --from 2026-11-01 --to 2026-11-30 --out audit-2026-11 --no-pdf'],
  'access request': ['mi access request --env prod --role operator --for 1h --why "INC-1234: cus-acme is degraded"'],
  'access list': ['mi access list', 'mi access list --json'],
  'access approve': ['mi access approve <grant> --reason "on call for INC-1234"'],
  'access deny': ['mi access deny <grant> --reason "not on call this week"'],
  'access revoke': ['mi access revoke <grant> --reason "incident closed"'],
  'access review': ['mi access review <grant> --reason "every action matched the incident"'],
  'access sweep': ['mi access sweep', 'mi access sweep --json'],
  dashboard: ['mi dashboard', 'mi dashboard --port 8088 --no-open', 'MI_DASHBOARD_URL=https://us-central1-my-project.cloudfunctions.net/dashboard mi dashboard'],
  completion: ['source <(mi completion bash)', 'mi completion fish | source'],
};

/** Adds each command's examples to its help. */
export function documentExamples(program: Command): void {
  const walk = (command: Command, path: string) => {
    const examples = EXAMPLES[path];
    if (examples !== undefined) command.addHelpText('after', ['', 'Examples:', ...examples.map((e) => `  ${e}`)].join('\n'));
    for (const sub of command.commands) walk(sub, `${path} ${sub.name()}`);
  };
  for (const command of program.commands) walk(command, command.name());
}
