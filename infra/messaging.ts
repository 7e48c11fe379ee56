/**
 * Dead letters and schedules: a dead-letter topic keeps what could not be delivered (a pull
 * subscription holds it for inspection and makes it countable) and raises an alert; Cloud
 * Scheduler publishes the topology's schedules.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { scheduleMessage } from '../cli/dev/local-clock.js';
import type { Schedule } from '../shared/topology.js';

/** The metric the dead-letter alert watches. */
export const UNDELIVERED_METRIC = 'pubsub.googleapis.com/subscription/num_undelivered_messages';

/** The pull subscription that keeps a dead-letter topic's messages. */
export function heldSubscriptionName(deadLetterTopic: string): string {
  return `${deadLetterTopic}--held`;
}

export interface DeadLetterTopicArgs {
  project: string;
  topicName: string;
  /** `service-<number>@gcp-sa-pubsub.iam.gserviceaccount.com`, as a member. */
  pubsubAgent: pulumi.Input<string>;
  notificationChannels: readonly string[];
}

/** A dead-letter topic, the Pub/Sub service agent's right to forward to it, its held messages and their alert. */
export class DeadLetterTopic extends pulumi.ComponentResource {
  readonly topic: gcp.pubsub.Topic;
  readonly held: gcp.pubsub.Subscription;
  readonly alert: gcp.monitoring.AlertPolicy;

  constructor(name: string, args: DeadLetterTopicArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:DeadLetterTopic', name, {}, opts);
    const { project } = args;
    this.topic = new gcp.pubsub.Topic(name, { project, name: args.topicName }, { parent: this });
    new gcp.pubsub.TopicIAMMember(`${name}-publisher`, { project, topic: this.topic.name, role: 'roles/pubsub.publisher', member: args.pubsubAgent }, { parent: this });
    const heldName = heldSubscriptionName(args.topicName);
    this.held = new gcp.pubsub.Subscription(
      `${name}-held`,
      {
        project,
        name: heldName,
        topic: this.topic.id,
        ackDeadlineSeconds: 60,
        // The longest Pub/Sub keeps unacknowledged messages; the subscription itself never expires.
        messageRetentionDuration: '604800s',
        expirationPolicy: { ttl: '' },
      },
      { parent: this },
    );
    this.alert = new gcp.monitoring.AlertPolicy(
      `${name}-alert`,
      {
        project,
        displayName: `Dead letters on ${args.topicName}`,
        combiner: 'OR',
        severity: 'ERROR',
        conditions: [
          {
            displayName: `${heldName} holds messages`,
            conditionThreshold: {
              filter: pulumi.interpolate`resource.type = "pubsub_subscription" AND resource.labels.subscription_id = "${this.held.name}" AND metric.type = "${UNDELIVERED_METRIC}"`,
              comparison: 'COMPARISON_GT',
              thresholdValue: 0,
              duration: '60s',
              aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }],
            },
          },
        ],
        documentation: {
          mimeType: 'text/markdown',
          content: `Messages on \`${args.topicName}\` could not be delivered after every attempt. Pull them from \`${heldName}\` (their \`CloudPubSubDeadLetterSource*\` attributes name the subscription), fix the cause, then republish or acknowledge them.`,
        },
        notificationChannels: [...args.notificationChannels],
      },
      { parent: this },
    );
    this.registerOutputs({ topic: this.topic.name, held: this.held.name });
  }
}

export interface SchedulesArgs {
  project: string;
  region: string;
  schedules: readonly Schedule[];
  topics: ReadonlyMap<string, gcp.pubsub.Topic>;
}

/** Cloud Scheduler jobs publishing the same static message `mi dev`'s local clock publishes. */
export class Schedules extends pulumi.ComponentResource {
  readonly jobs: gcp.cloudscheduler.Job[];

  constructor(name: string, args: SchedulesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:Schedules', name, {}, opts);
    this.jobs = args.schedules.map((schedule) => {
      const topic = args.topics.get(schedule.topic);
      if (!topic) throw new Error(`schedule ${schedule.name} publishes to ${schedule.topic}, which the program does not create`);
      const message = scheduleMessage(schedule);
      return new gcp.cloudscheduler.Job(
        schedule.name,
        {
          project: args.project,
          region: args.region,
          name: schedule.name,
          description: schedule.description,
          schedule: schedule.cron,
          timeZone: schedule.timeZone,
          pubsubTarget: { topicName: topic.id, data: message.data.toString('base64'), attributes: message.attributes },
        },
        { parent: this },
      );
    });
    this.registerOutputs({});
  }
}
