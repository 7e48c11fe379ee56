/**
 * `mi completion bash|zsh|fish`: shell completion generated from the command tree itself, so it
 * never lags behind a new command or option. `source <(mi completion bash)`; zsh through
 * bashcompinit; fish: `mi completion fish | source`.
 */
import type { Command } from 'commander';
import * as z from 'zod';
import type { CliContext } from '../context.js';
import { parseFlags } from '../flags.js';

/** Every command path (`instance get`) with its subcommands and long options. */
function tree(root: Command): Map<string, { subcommands: string[]; options: string[] }> {
  const paths = new Map<string, { subcommands: string[]; options: string[] }>();
  const walk = (command: Command, path: string) => {
    const options = command.options.map((o) => o.long).filter((o): o is string => o !== undefined);
    paths.set(path, { subcommands: command.commands.map((c) => c.name()), options: path === '' ? options : [...options, ...root.options.map((o) => o.long).filter((o): o is string => o !== undefined)] });
    for (const sub of command.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  walk(root, '');
  return paths;
}

function bash(root: Command): string {
  const cases = [...tree(root)].map(([path, node]) => `    "${path}") words="${[...node.subcommands, ...node.options].join(' ')}" ;;`);
  return [
    '# mi completion for bash (and zsh with bashcompinit): source <(mi completion bash)',
    '_mi_complete() {',
    '  local path="" word i',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    word="${COMP_WORDS[i]}"',
    '    [[ "$word" == -* ]] && continue',
    '    case " $(_mi_children "$path") " in *" $word "*) path="${path:+$path }$word" ;; esac',
    '  done',
    '  local words=""',
    '  case "$path" in',
    ...cases,
    '  esac',
    '  COMPREPLY=($(compgen -W "$words" -- "${COMP_WORDS[COMP_CWORD]}"))',
    '}',
    '_mi_children() {',
    '  case "$1" in',
    ...[...tree(root)].map(([path, node]) => `    "${path}") echo "${node.subcommands.join(' ')}" ;;`),
    '  esac',
    '}',
    'complete -F _mi_complete mi',
    '',
  ].join('\n');
}

function fish(root: Command): string {
  const lines = ['# mi completion for fish: mi completion fish | source'];
  for (const [path, node] of tree(root)) {
    const condition = path === '' ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${path.split(' ').at(-1) ?? ''}`;
    for (const sub of node.subcommands) lines.push(`complete -c mi -f -n '${condition}' -a ${sub}`);
    for (const option of node.options) lines.push(`complete -c mi -f -n '${condition}' -l ${option.replace(/^--/, '')}`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerCompletionCommand(program: Command, ctx: CliContext): void {
  program
    .command('completion')
    .description('print shell completion: source <(mi completion bash), or zsh (with bashcompinit), or mi completion fish | source')
    .argument('<shell>', 'bash, zsh or fish')
    .action((shell: string) => {
      const { which } = parseFlags(z.object({ which: z.enum(['bash', 'zsh', 'fish'], { error: 'expected bash, zsh or fish' }) }), { which: shell }, { which: '<shell>' });
      const script = which === 'fish' ? fish(program) : which === 'zsh' ? `autoload -U +X bashcompinit && bashcompinit\n${bash(program)}` : bash(program);
      ctx.io.stdout.write(script);
    });
}
