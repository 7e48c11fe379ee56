/**
 * The help manifest made from the command tree: every help reply it keeps is what commander
 * prints live, and the groups it names for a top-level command are enough to build that command
 * whole (each of its paths has the same help with only those groups loaded as with all).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildHelpManifest } from '../../../cli/help-manifest.js';
import { groupsOf, replyKeyOf, type HelpManifest } from '../../../cli/invocation.js';
import { runCli } from '../../../cli/main.js';
import { CLI_VARIABLES } from '../../../cli/environment.js';
import { EXAMPLES } from '../../../cli/examples.js';

async function live(args: readonly string[], groups?: ReadonlySet<string>) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env: {} }, groups);
  return { stdout, stderr, code };
}

let manifest: HelpManifest;
beforeAll(async () => {
  manifest = await buildHelpManifest();
}, 60_000);

describe('the help manifest', () => {
  it('keeps the help of every command path, the root, the version and `help <command>`', () => {
    expect(Object.keys(manifest.replies)).toEqual(expect.arrayContaining(['', '--help', '--version', 'help', 'instance get --help', 'workflow run --help', 'help rollout']));
    expect(manifest.paths.length).toBeGreaterThan(40);
    for (const path of manifest.paths) expect(manifest.replies[`${path} --help`]?.stdout).toContain(`Usage: mi ${path}`);
    expect(manifest.replies['--version']).toEqual({ stdout: `${manifest.version}\n`, stderr: '', code: 0 });
  });

  it('answers as commander does live, with the global options and -h spelled any way', async () => {
    for (const args of [['-h'], ['--project', 'demo-x', 'instance', 'get', '-h'], ['-V'], [], ['help', 'workflow']]) {
      const key = replyKeyOf(args, manifest);
      expect(key, args.join(' ')).toBeDefined();
      expect(manifest.replies[key ?? ''], args.join(' ')).toEqual(await live(args));
    }
  });

  it("builds each top-level command whole from its groups alone: every path's help is the same as with every group loaded", async () => {
    for (const path of manifest.paths) {
      const args = [...path.split(' '), '--help'];
      const groups = groupsOf(args, manifest);
      expect(groups, path).toBeDefined();
      expect((await live(args, groups)).stdout, path).toBe(manifest.replies[`${path} --help`]?.stdout);
    }
    // A group that adds to another's command is named with it.
    expect(manifest.groups.instance).toEqual(expect.arrayContaining(['instance', 'compliance']));
    expect(manifest.groups.backup).toEqual(['lifecycle', 'backups']);
  }, 120_000);

  it("says in each command's help the environment variables it reads, and the root's lists them all", () => {
    const help = (path: string) => manifest.replies[`${path} --help`]?.stdout ?? '';
    for (const v of CLI_VARIABLES) expect(manifest.replies['--help']?.stdout).toContain(`  ${v.name} `);
    expect(help('instance list')).toContain('FIRESTORE_EMULATOR_HOST');
    // Reading commands do not go through the commands function; the ones that act do.
    expect(help('instance list')).not.toContain('MI_COMMANDS_URL');
    expect(help('upgrade')).toContain('MI_COMMANDS_URL');
    expect(help('backup list')).toContain('MI_COMMANDS_URL');
    expect(help('workflow status')).toContain('NO_COLOR');
    // Every command a variable names exists.
    for (const v of CLI_VARIABLES) {
      if (v.readBy === 'all') continue;
      for (const path of v.readBy) expect(manifest.paths.some((p) => p === path || p.startsWith(`${path} `)), `${v.name}: ${path}`).toBe(true);
    }
  });

  it('gives every command examples, each of that command', () => {
    const leaves = manifest.paths.filter((p) => !manifest.paths.some((q) => q.startsWith(`${p} `)));
    for (const path of leaves) expect(manifest.replies[`${path} --help`]?.stdout, path).toMatch(/\nExamples:\n {2}\S/);
    for (const [path, examples] of Object.entries(EXAMPLES)) {
      expect(manifest.paths, path).toContain(path);
      for (const example of examples) if (example.startsWith('mi ')) expect(example, path).toMatch(new RegExp(`^mi ${path}( |$)`));
    }
  });
});
