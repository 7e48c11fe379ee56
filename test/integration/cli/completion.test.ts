import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/main.js';

let dir: string;
async function completion(shell: string): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['completion', shell], { stdout: { write: (t) => out.push(t) }, stderr: { write: (t) => err.push(t) }, env: {} });
  return { code, out: out.join(''), err: err.join('') };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mi-completion-'));
  await writeFile(join(dir, 'mi.bash'), (await completion('bash')).out);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** What bash offers after the words typed so far (the last one being completed). */
function offered(...words: string[]): string[] {
  const script = `source ${join(dir, 'mi.bash')}; COMP_WORDS=(mi ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _mi_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', script], { encoding: 'utf8' }).split('\n').filter((l) => l !== '');
}

describe('mi completion', () => {
  it('bash completes commands, subcommands and options from the command tree', () => {
    expect(offered('ac')).toEqual(['access']);
    expect(offered('instance', '')).toEqual(expect.arrayContaining(['list', 'get', 'workon', 'db', 'extend']));
    expect(offered('access', 'request', '--e')).toEqual(['--env']);
    expect(offered('backup', 'l')).toEqual(['list']);
    expect(offered('upgrade', 'cus-acme', '--t')).toEqual(['--to', '--timeout']);
  });

  it('zsh (through bashcompinit) and fish too; another shell is refused', async () => {
    expect((await completion('zsh')).out).toMatch(/^autoload -U \+X bashcompinit && bashcompinit\n/);
    const fish = (await completion('fish')).out;
    expect(fish).toContain("complete -c mi -f -n '__fish_use_subcommand' -a access");
    expect(fish).toContain("complete -c mi -f -n '__fish_seen_subcommand_from request' -l why");
    const bad = await completion('powershell');
    expect([bad.code, bad.err]).toEqual([2, 'mi: <shell>: expected bash, zsh or fish\n']);
  });
});
