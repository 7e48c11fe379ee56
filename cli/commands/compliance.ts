/**
 * `mi compliance run` (a verify-backups run now, asked of the commands function) and
 * `mi compliance report` (per control, the instances checked, each failure with its evidence,
 * the 30-day trend; Markdown, JSON or HTML); and `mi instance extend`, which moves a dev
 * instance's expiry with an audit record of who and why.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import * as z from 'zod';
import { manualRunId } from '../../shared/domain/compliance/run-key.js';
import type { ComplianceRun } from '../../shared/compliance/index.js';
import { instanceIdSchema } from '../../shared/events/index.js';
import { systemClock } from '../../shared/ports.js';
import { DEFAULT_POLL_INTERVAL_MS, DEFAULT_REASON, EXIT } from '../config.js';
import { sendCommand } from '../commands-client.js';
import type { CliContext } from '../context.js';
import { reportMaker } from '../report-maker.js';
import { changeEvidenceOf } from '../change-evidence.js';
import { CliError, refused } from '../errors.js';
import { durationSchema, parseFlags, reasonSchema } from '../flags.js';
import { line, printJson } from '../output.js';
import { compliancePaths } from '../../shared/store/collections.js';
import { RECORD_RETENTION_DAYS } from '../../shared/store/records.js';

const LABELS = { from: '--from', to: '--to', bucket: '--bucket', out: '--out', pdf: '--no-pdf', run: '--run', date: '--date', format: '--format', timeout: '--timeout', hours: '--hours', reason: '--reason', instance: '<instance>', schedule: '--schedule' };

const runFlags = z.object({
  schedule: z.enum(['verify-backups', 'check-retention', 'compliance-report', 'restore-drill'], { error: 'expected verify-backups, check-retention, compliance-report or restore-drill' }).default('verify-backups'),
  wait: z.boolean().optional(),
  timeout: durationSchema.default(10 * 60_000),
  format: z.enum(['md', 'json', 'html'], { error: 'expected md, json or html' }).default('md'),
  json: z.boolean().optional(),
});

const reportFlags = z.object({
  run: z.string().regex(/^[a-z][a-z0-9-]{2,80}$/, { error: 'expected a run id such as verify-backups-20261126t0200z' }).optional(),
  date: z.iso.date({ error: 'expected a date such as 2026-11-26' }).optional(),
  format: z.enum(['md', 'json', 'html'], { error: 'expected md, json or html' }).default('md'),
});

const verifyFlags = z
  .object({
    from: z.iso.date({ error: 'expected a date such as 2026-01-01' }),
    to: z.iso.date({ error: 'expected a date such as 2026-06-30' }),
    format: z.enum(['text', 'json'], { error: 'expected text or json' }).default('text'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$/, { error: 'expected a Cloud Storage bucket name' }).optional(),
  })
  .refine((f) => f.from <= f.to, { error: '--from is after --to', path: ['from'] })
  .refine((f) => Date.parse(f.to) - Date.parse(f.from) <= 400 * 86_400_000, { error: 'the period is over 400 days: the evidence is kept 400 days', path: ['to'] });

const evidenceFlags = z
  .object({
    from: z.iso.date({ error: 'expected a date such as 2026-01-01' }),
    to: z.iso.date({ error: 'expected a date such as 2026-06-30' }),
    out: z.string().min(1, { error: 'expected a folder' }).optional(),
    pdf: z.boolean().default(true),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$/, { error: 'expected a Cloud Storage bucket name' }).optional(),
  })
  .refine((f) => f.from <= f.to, { error: '--from is after --to', path: ['from'] })
  .refine((f) => Date.parse(f.to) - Date.parse(f.from) <= 400 * 86_400_000, { error: 'the period is over 400 days: the evidence is kept 400 days', path: ['to'] });

const extendFlags = z.object({
  instance: instanceIdSchema,
  hours: z.coerce.number({ error: 'expected a number of hours' }).int({ error: 'expected a whole number of hours' }).min(1, { error: 'expected at least 1 hour' }).max(24 * 90, { error: 'expected at most 2160 hours (90 days)' }),
  reason: reasonSchema.optional(),
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Registers `mi compliance …` and `mi instance extend`. */
export function registerComplianceCommands(program: Command, ctx: CliContext): void {
  const compliance = program.command('compliance').description('scheduled compliance: backup verification, retention, drills, and the report an auditor reads');

  compliance
    .command('run')
    .description('start a compliance run now (default: verify-backups over every instance); with --wait, print its report once every instance is checked')
    .option('--schedule <name>', 'verify-backups, check-retention, compliance-report or restore-drill', 'verify-backups')
    .option('--wait', 'wait until the run has a finding for every planned instance, then print the report')
    .option('--timeout <duration>', 'with --wait: how long to wait (e.g. 90s, 10m)', '10m')
    .option('--format <format>', 'with --wait: md, json or html', 'md')
    .option('--json', 'print the run id and event as JSON')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(runFlags, command.opts(), LABELS);
      const eventId = randomUUID();
      const runId = manualRunId(flags.schedule, eventId);
      const answer = await sendCommand(ctx, command, { command: 'compliance.run', eventId, schedule: flags.schedule }, { what: `a ${flags.schedule} run`, idempotent: true });
      if (flags.json && !flags.wait) {
        printJson(ctx.io.stdout, { runId, eventId, schedule: flags.schedule, by: answer.by ?? null });
        return;
      }
      const backend = ctx.backend(command);
      if (!flags.wait) {
        line(ctx.io.stdout, `asked for compliance run ${runId} as ${answer.by ?? 'you'} (event ${eventId})`);
        line(ctx.io.stdout, `mi compliance report --run ${runId}   # once its checks are in`);
        return;
      }
      const started = Date.now();
      const interval = ctx.io.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
      for (;;) {
        const run = await backend.store.get<ComplianceRun>(compliancePaths.run(runId));
        if (run?.status === 'done') {
          if (flags.schedule !== 'verify-backups') {
            printJson(ctx.io.stdout, run);
            return;
          }
          const { buildReport, renderReport, summarizeRun } = await import('../../shared/compliance/index.js');
          const summary = await summarizeRun(backend.store, run, systemClock.now());
          if (summary.complete && summary.schedules !== 'missing') {
            const report = await buildReport(backend.store, run, systemClock.now(), reportMaker(ctx.io.env, backend.projectId), await changeEvidenceOf(ctx.io.env));
            ctx.io.stdout.write(renderReport(report, flags.json ? 'json' : flags.format));
            ctx.exitCode = report.verdict.outcome === 'fail' ? EXIT.failed : EXIT.ok;
            return;
          }
        }
        if (Date.now() - started > flags.timeout) {
          throw new CliError(`compliance run ${runId} was not complete after ${Math.round(flags.timeout / 1000)} s; mi compliance report --run ${runId} shows where it is`, EXIT.timedOut);
        }
        await sleep(interval);
      }
    });

  compliance
    .command('report')
    .description('the report of a verify-backups run: per control, instances checked, each failure with its evidence, the 30-day trend')
    .option('--run <id>', 'the run (default: the latest)')
    .option('--date <yyyy-mm-dd>', 'the latest run of that day (UTC)')
    .option('--format <format>', 'md, json or html', 'md')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(reportFlags, command.opts(), LABELS);
      if (flags.run !== undefined && flags.date !== undefined) throw refused('give --run or --date, not both');
      const backend = ctx.backend(command);
      const { store } = backend;
      const now = systemClock.now();
      // The report's code loads only for the commands that print one (`mi instance extend` shares this group).
      const { buildReport, findRun, renderReport } = await import('../../shared/compliance/index.js');
      const run = await findRun(store, { ...(flags.run === undefined ? {} : { runId: flags.run }), ...(flags.date === undefined ? {} : { date: flags.date }) }, now);
      if (run === undefined) throw refused(flags.run !== undefined ? `no compliance run ${flags.run}` : flags.date !== undefined ? `no verify-backups run on ${flags.date}` : 'no verify-backups run yet (mi compliance run starts one)');
      if (run.schedule !== 'verify-backups') throw refused(`${run.runId} is a ${run.schedule} run: reports are of verify-backups runs`);
      const report = await buildReport(store, run, now, reportMaker(ctx.io.env, backend.projectId), await changeEvidenceOf(ctx.io.env));
      ctx.io.stdout.write(renderReport(report, flags.format));
    });

  compliance
    .command('verify')
    .description("check every stored audit record and finding of the period against its hash chain and each day's anchor in the locked evidence bucket; names the first break, and each day without an anchor, a run, or a finding per instance")
    .requiredOption('--from <yyyy-mm-dd>', 'the first day (UTC)')
    .requiredOption('--to <yyyy-mm-dd>', 'the last day (UTC)')
    .option('--format <format>', 'text or json', 'text')
    .option('--bucket <name>', 'the evidence bucket (default: <project>-compliance-evidence)')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(verifyFlags, command.opts(), LABELS);
      const kept = new Date(systemClock.now().getTime() - RECORD_RETENTION_DAYS * 86_400_000).toISOString().slice(0, 10);
      if (flags.from < kept) throw refused(`--from ${flags.from} is before ${kept}: records are kept ${RECORD_RETENTION_DAYS} days, so older days can no longer be shown`);
      const backend = ctx.backend(command);
      const [{ verifyRecords, renderVerification }, { evidenceBucketFor }] = await Promise.all([import('../../shared/compliance/verify.js'), import('../evidence-bucket.js')]);
      const bucket = await evidenceBucketFor(ctx.io.env, backend.projectId, flags.bucket);
      const verification = await verifyRecords(backend.store, bucket, flags.from, flags.to, systemClock.now());
      if (flags.format === 'json') printJson(ctx.io.stdout, verification);
      else ctx.io.stdout.write(renderVerification(verification));
      ctx.exitCode = verification.ok ? EXIT.ok : EXIT.failed;
    });

  compliance
    .command('evidence')
    .description("write one folder of evidence for a period: its summary (every day's run, the days without one, a chart, the records verified against their anchors) and the last run's full report in HTML, Markdown, JSON and PDF, every run's raw findings, each day's anchor, and a manifest of every file's SHA-256")
    .requiredOption('--from <yyyy-mm-dd>', 'the first day (UTC)')
    .requiredOption('--to <yyyy-mm-dd>', 'the last day (UTC)')
    .option('--out <folder>', 'where to write it (default: ./mi-evidence-<from>-<to>); must not exist or be empty')
    .option('--no-pdf', 'skip the PDFs (they need Chromium)')
    .option('--bucket <name>', 'the evidence bucket (default: <project>-compliance-evidence)')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(evidenceFlags, command.opts(), LABELS);
      const kept = new Date(systemClock.now().getTime() - RECORD_RETENTION_DAYS * 86_400_000).toISOString().slice(0, 10);
      if (flags.from < kept) throw refused(`--from ${flags.from} is before ${kept}: records are kept ${RECORD_RETENTION_DAYS} days, so older days can no longer be shown`);
      const out = resolve(flags.out ?? `mi-evidence-${flags.from}-${flags.to}`);
      if (existsSync(out) && readdirSync(out).length > 0) throw refused(`${out} is not empty: evidence is written into a new folder`);
      const backend = ctx.backend(command);
      const [{ assembleEvidence, withManifest }, { buildReport }, { evidenceBucketFor }, { printPdf, requireChromium }] = await Promise.all([
        import('../../shared/compliance/evidence.js'),
        import('../../shared/compliance/index.js'),
        import('../evidence-bucket.js'),
        import('../pdf.js'),
      ]);
      // Before any reading: a missing Chromium is known at once, not after minutes of work.
      if (flags.pdf) requireChromium(ctx.io.env);
      const bucket = await evidenceBucketFor(ctx.io.env, backend.projectId, flags.bucket);
      const now = systemClock.now();
      const maker = reportMaker(ctx.io.env, backend.projectId);
      const { files, summary } = await assembleEvidence({ store: backend.store, bucket, from: flags.from, to: flags.to, now, maker, report: async (run) => buildReport(backend.store, run, now, maker, await changeEvidenceOf(ctx.io.env)) });
      const write = async (name: string, content: string | Buffer) => {
        await mkdir(dirname(join(out, name)), { recursive: true });
        await writeFile(join(out, name), content);
      };
      for (const file of files) await write(file.name, file.content);
      const printed = [];
      if (flags.pdf) {
        for (const html of files.filter((f) => f.name.endsWith('.html'))) {
          const pdf = html.name.replace(/\.html$/, '.pdf');
          await printPdf(ctx.io.env, join(out, html.name), join(out, pdf));
          printed.push({ name: pdf, content: await readFile(join(out, pdf)) });
        }
      }
      const all = withManifest([...files, ...printed], summary);
      for (const file of all.slice(files.length + printed.length)) await write(file.name, file.content);
      line(ctx.io.stdout, `wrote ${all.length} files to ${out}: verdict ${summary.verdict.outcome.toUpperCase()}${summary.verdict.reasons.length === 0 ? '' : ` (${summary.verdict.reasons.length} findings, see summary.md)`}`);
      line(ctx.io.stdout, `cd ${out} && sha256sum -c SHA256SUMS   # checks every file against the manifest`);
      ctx.exitCode = summary.verdict.outcome === 'pass' ? EXIT.ok : EXIT.failed;
    });

  const instance = program.commands.find((c) => c.name() === 'instance') ?? program.command('instance').description('query the fleet of managed instances');
  instance
    .command('extend')
    .description("move a dev instance's expiry N hours on (from its expiry, or from now if it has passed); recorded in the audit trail")
    .argument('<instance>', 'the dev instance id')
    .requiredOption('--hours <n>', 'how many hours')
    .option('--reason <text>', 'why (recorded in the audit trail)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const flags = parseFlags(extendFlags, { ...command.opts(), instance: id }, LABELS);
      const answer = await sendCommand(
        ctx,
        command,
        { command: 'instance.extend', instanceId: flags.instance, hours: flags.hours, reason: flags.reason ?? DEFAULT_REASON },
        { what: `extending ${flags.instance}`, idempotent: false },
      );
      line(ctx.io.stdout, `${flags.instance} now expires ${String(answer.expiresAt)} (was ${typeof answer.before === 'string' ? answer.before : 'no expiry'}), recorded as by ${answer.by ?? 'you'}`);
    });
}
