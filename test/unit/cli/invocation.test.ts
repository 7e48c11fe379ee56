/**
 * Where an invocation goes before anything is loaded: a help or version request printed at build
 * time is answered from the manifest only when it is exactly such a request; anything else goes
 * to commander with the groups its top-level command is made of.
 */
import { describe, expect, it } from 'vitest';
import { groupsOf, replyKeyOf, type HelpManifest } from '../../../cli/invocation.js';

const reply = { stdout: 'help', stderr: '', code: 0 };
const manifest: HelpManifest = {
  version: '1.2.3',
  valueOptions: ['--project', '-o', '--output', '--as'],
  paths: ['instance', 'instance get'],
  replies: { '': reply, '--help': reply, '--version': reply, help: reply, 'instance --help': reply, 'instance get --help': reply, 'help instance': reply },
  groups: { instance: ['instance', 'compliance'], upgrade: ['lifecycle'] },
};

describe('replyKeyOf', () => {
  it('answers help and version requests, whatever global options stand beside them', () => {
    expect(replyKeyOf([], manifest)).toBe('');
    expect(replyKeyOf(['-h'], manifest)).toBe('--help');
    expect(replyKeyOf(['-V'], manifest)).toBe('--version');
    expect(replyKeyOf(['--project', 'demo-x', 'instance', 'get', '--help'], manifest)).toBe('instance get --help');
    expect(replyKeyOf(['instance', '-h', '-o', 'json', 'get'], manifest)).toBe('instance get --help');
    expect(replyKeyOf(['--project=demo-x', 'help', 'instance'], manifest)).toBe('help instance');
  });

  it('leaves to commander whatever else: a command, an argument, an option of its own, a mistyped one', () => {
    expect(replyKeyOf(['instance', 'get'], manifest)).toBeUndefined();
    expect(replyKeyOf(['instance', 'get', 'cus-acme', '--help'], manifest)).toBeUndefined();
    expect(replyKeyOf(['instance', 'get', '--json', '--help'], manifest)).toBeUndefined();
    expect(replyKeyOf(['--verison'], manifest)).toBeUndefined();
    expect(replyKeyOf(['instance', '--version'], manifest)).toBeUndefined();
    // A global option's value is not read as a command word.
    expect(replyKeyOf(['--as', 'help'], manifest)).toBe('');
  });
});

describe('groupsOf', () => {
  it("loads the groups of the invocation's top-level command, after any global option and its value", () => {
    expect([...(groupsOf(['--project', 'upgrade', 'instance', 'list'], manifest) ?? [])]).toEqual(['instance', 'compliance']);
    expect([...(groupsOf(['upgrade', 'cus-acme', '--to', '5.5.0'], manifest) ?? [])]).toEqual(['lifecycle']);
  });

  it('loads every group for a command it does not know (commander then says what is wrong)', () => {
    expect(groupsOf(['upgarde'], manifest)).toBeUndefined();
    expect(groupsOf([], manifest)).toBeUndefined();
  });
});
