/**
 * The alert policies beside the dead-letter ones, for what needs a person even when Slack is
 * quiet: an operation stuck, a compliance run failed or incomplete (both from the line each
 * function logs when it publishes an alert, `jsonPayload.alertKind`), a Cloud Scheduler job
 * whose attempt failed (so a tick that never reached its topic is seen), and a spike of error
 * lines from the functions (a log-based metric of their ERROR lines, per function).
 *
 * Log-matching policies open one incident per matching line, at most one per rate-limit period.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { AlertKind } from '../shared/events/index.js';
import { ALERT_KIND_LOG_FIELD } from '../shared/log.js';

/** The user-defined metric counting the functions' ERROR lines. */
export const FUNCTION_ERRORS_METRIC = 'mi-function-errors';

/** The alert kinds the log-matching policies watch: each listed kind must be one publishers use. */
export const WATCHED_ALERTS: readonly { name: string; displayName: string; kinds: readonly AlertKind[]; severity: 'CRITICAL' | 'ERROR' | 'WARNING'; runbook: string }[] = [
  {
    name: 'stuck-operations',
    displayName: 'An operation is stuck',
    kinds: ['operation-stuck'],
    severity: 'ERROR',
    runbook:
      'An operation has made no progress past its bound and holds its instance. Find it with `mi op list --status running`, read its steps with `mi op get <id>`, then abandon it if it cannot go on (`mi op abandon <id>` releases the lease and says what to clean up).',
  },
  {
    name: 'compliance-failures',
    displayName: 'A compliance run failed or is incomplete',
    kinds: ['compliance-failed', 'compliance-incomplete'],
    severity: 'ERROR',
    runbook: 'A control failed for an instance, or the run could not check every instance. Read the latest run’s report with `mi compliance report`; each failure names its evidence.',
  },
];

export interface ControlPlaneAlertsArgs {
  project: string;
  /** The deployed functions' names (their Cloud Run services'). */
  services: readonly string[];
  /** The Cloud Scheduler jobs' names. */
  schedulerJobs: readonly string[];
  notificationChannels: readonly string[];
  /** Error lines from one function within five minutes that make a spike. */
  errorLinesPerFiveMinutes: number;
}

function anyOf(values: readonly string[]): string {
  return `(${values.map((v) => `"${v}"`).join(' OR ')})`;
}

/** The filter of the functions' own log lines. */
export function functionLogsFilter(services: readonly string[]): string {
  return `resource.type="cloud_run_revision" AND resource.labels.service_name=${anyOf(services)}`;
}

export class ControlPlaneAlerts extends pulumi.ComponentResource {
  readonly policies: gcp.monitoring.AlertPolicy[];
  readonly errorsMetric: gcp.logging.Metric;

  constructor(name: string, args: ControlPlaneAlertsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:ControlPlaneAlerts', name, {}, opts);
    const { project } = args;
    const channels = [...args.notificationChannels];
    // One incident per kind and instance at most every five minutes; closed after a quiet half hour.
    const logMatchStrategy = { notificationRateLimit: { period: '300s' }, autoClose: '1800s' };

    this.policies = WATCHED_ALERTS.map(
      (watched) =>
        new gcp.monitoring.AlertPolicy(
          `${name}-${watched.name}`,
          {
            project,
            displayName: watched.displayName,
            combiner: 'OR',
            severity: watched.severity,
            conditions: [
              {
                displayName: `a function published a ${watched.kinds.join(' or ')} alert`,
                conditionMatchedLog: {
                  filter: `${functionLogsFilter(args.services)} AND jsonPayload.${ALERT_KIND_LOG_FIELD}=${anyOf(watched.kinds)}`,
                  // Cloud Logging moves the line's logging.googleapis.com/labels into the entry's labels.
                  labelExtractors: { instance: 'EXTRACT(labels.instance)', operation: 'EXTRACT(labels.operation)' },
                },
              },
            ],
            alertStrategy: logMatchStrategy,
            documentation: { mimeType: 'text/markdown', content: watched.runbook },
            notificationChannels: channels,
          },
          { parent: this },
        ),
    );

    this.policies.push(
      new gcp.monitoring.AlertPolicy(
        `${name}-scheduler-failures`,
        {
          project,
          displayName: 'A Cloud Scheduler job of the control plane failed',
          combiner: 'OR',
          severity: 'ERROR',
          conditions: [
            {
              displayName: 'a job attempt finished with an error',
              conditionMatchedLog: {
                filter: `resource.type="cloud_scheduler_job" AND resource.labels.job_id=${anyOf(args.schedulerJobs)} AND severity>=ERROR`,
                labelExtractors: { job: 'EXTRACT(resource.labels.job_id)' },
              },
            },
          ],
          alertStrategy: logMatchStrategy,
          documentation: {
            mimeType: 'text/markdown',
            content:
              'A scheduled tick did not reach its topic: the work it drives (reconciling, backups verified, rollouts ticked, compliance runs) waited for the next one. Check the job with `gcloud scheduler jobs describe <job>`; a tick missed by the compliance schedule is itself a finding in the next report.',
          },
          notificationChannels: channels,
        },
        { parent: this },
      ),
    );

    this.errorsMetric = new gcp.logging.Metric(
      `${name}-function-errors`,
      {
        project,
        name: FUNCTION_ERRORS_METRIC,
        description: "The control plane functions' ERROR lines, per function",
        filter: `${functionLogsFilter(args.services)} AND severity>=ERROR`,
        metricDescriptor: { metricKind: 'DELTA', valueType: 'INT64', unit: '1', labels: [{ key: 'function', valueType: 'STRING', description: 'the function that logged it' }] },
        labelExtractors: { function: 'EXTRACT(resource.labels.service_name)' },
      },
      { parent: this },
    );

    this.policies.push(
      new gcp.monitoring.AlertPolicy(
        `${name}-error-rate`,
        {
          project,
          displayName: 'A control plane function logs errors at a high rate',
          combiner: 'OR',
          severity: 'WARNING',
          conditions: [
            {
              displayName: `more than ${args.errorLinesPerFiveMinutes} error lines from one function in five minutes`,
              conditionThreshold: {
                filter: pulumi.interpolate`resource.type = "cloud_run_revision" AND metric.type = "logging.googleapis.com/user/${this.errorsMetric.name}"`,
                comparison: 'COMPARISON_GT',
                thresholdValue: args.errorLinesPerFiveMinutes,
                duration: '0s',
                aggregations: [{ alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM', groupByFields: ['metric.label.function'] }],
              },
            },
          ],
          documentation: {
            mimeType: 'text/markdown',
            content: 'One function is failing often. Error Reporting groups its errors by stack (service = the function); its log lines carry the trace and the instance, operation and event labels to follow one through.',
          },
          notificationChannels: channels,
        },
        { parent: this },
      ),
    );
    this.registerOutputs({ policies: this.policies.length });
  }
}
