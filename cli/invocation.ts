/**
 * Where an invocation goes, read from its arguments and the help manifest alone (no commander,
 * no client): a help or version request answered from the manifest as it was printed at build
 * time, or the command groups a command needs loaded. Pure, so `mi --help` costs one JSON read.
 */

/** What `mi` printed for one invocation, and how it exited. */
export interface Reply {
  stdout: string;
  stderr: string;
  code: number;
}

/** Written by `npm run build` (cli/help-manifest.ts) from the command tree itself. */
export interface HelpManifest {
  version: string;
  /** The global options that take a value (`--project <id>`): their values are no command words. */
  valueOptions: string[];
  /** Every command path, space-separated (`instance get`). */
  paths: string[];
  /** Help and version invocations, keyed by their words (`instance get --help`, `--version`, ``). */
  replies: Record<string, Reply>;
  /** The command groups (cli/commands/index.ts) each top-level command is made of. */
  groups: Record<string, string[]>;
}

const HELP_FLAGS = new Set(['--help', '-h']);

/** The words of an invocation with the global options and their values set aside, or undefined when it has another option. */
function commandWords(args: readonly string[], manifest: Pick<HelpManifest, 'valueOptions'>): { words: string[]; help: boolean; others: boolean } {
  const words: string[] = [];
  let help = false;
  let others = false;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    if (HELP_FLAGS.has(arg)) help = true;
    else if (manifest.valueOptions.includes(arg)) i += 1;
    else if (arg.startsWith('--') && manifest.valueOptions.includes(arg.split('=')[0] ?? '')) continue;
    else if (arg === '--version' || arg === '-V') words.push('--version');
    else if (arg.startsWith('-')) others = true;
    else words.push(arg);
  }
  return { words, help, others };
}

/** The key of the manifest's reply this invocation gets, if it is one of those printed at build time. */
export function replyKeyOf(args: readonly string[], manifest: Pick<HelpManifest, 'valueOptions' | 'replies'>): string | undefined {
  const { words, help, others } = commandWords(args, manifest);
  // Any other option (a command's own, or a mistyped one) is for commander to read.
  if (others) return undefined;
  const key = [...words, ...(help ? ['--help'] : [])].join(' ');
  return Object.hasOwn(manifest.replies, key) ? key : undefined;
}

/** The command groups to load for this invocation, or undefined for all of them. */
export function groupsOf(args: readonly string[], manifest: Pick<HelpManifest, 'valueOptions' | 'groups'>): Set<string> | undefined {
  const top = args.find((arg, i) => !arg.startsWith('-') && !manifest.valueOptions.includes(args[i - 1] ?? ''));
  const groups = top === undefined ? undefined : manifest.groups[top];
  return groups === undefined ? undefined : new Set(groups);
}
