import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { decideWriteBack, writeBackOfOperation, writeBackOperationOf, writeBackOperationsOfPush, type WriteBack } from '../../../shared/domain/deployments/write-back.js';
import type { InstanceSpec } from '../../../shared/events/index.js';

const SPEC: InstanceSpec = { id: 'cus-acme', slug: 'acme', environment: 'prod', tier: 'internal', domain: 'acme.example.com', region: 'us-east4', version: '5.4.2' };
const UPGRADE: WriteBack = { instanceId: 'cus-acme', operationId: 'op-1', operationType: 'upgrade', before: { version: '5.4.2' }, after: { version: '5.5.0' } };

describe('deciding a write-back', () => {
  it('sets only the changed field, keeping comments, order and the other fields', () => {
    const text = '# cus-acme: owned by the platform team\nid: cus-acme\nslug: acme\nversion: 5.4.2 # pinned by the release\nregion: us-east4\n';
    const decision = decideWriteBack(text, UPGRADE);
    if (decision.kind !== 'write') throw new Error(decision.kind);
    expect(decision.text).toBe('# cus-acme: owned by the platform team\nid: cus-acme\nslug: acme\nversion: 5.5.0 # pinned by the release\nregion: us-east4\n');
    expect(writeBackOperationOf(decision.message)).toBe('op-1');
  });

  it('writes nothing when the file already says it, and leaves a newer change of a person alone', () => {
    expect(decideWriteBack('version: 5.5.0\n', UPGRADE).kind).toBe('already');
    const newer = decideWriteBack('version: 5.6.0\n', UPGRADE);
    expect(newer).toMatchObject({ kind: 'superseded', reason: expect.stringContaining('version 5.6.0') as unknown });
  });

  it('a created instance without a file gets its whole spec; a removed folder is not brought back', () => {
    const create = writeBackOfOperation({ id: 'op-2', type: 'create' }, SPEC, SPEC);
    if (create === undefined) throw new Error('no write-back for a create');
    const decision = decideWriteBack(undefined, { instanceId: 'cus-acme', ...create });
    if (decision.kind !== 'write') throw new Error(decision.kind);
    expect(parse(decision.text)).toEqual(SPEC);
    expect(decideWriteBack(undefined, UPGRADE).kind).toBe('superseded');
  });

  it('what each operation writes back: the fields it changed, nothing when it changed none', () => {
    expect(writeBackOfOperation({ id: 'op-3', type: 'upgrade' }, SPEC, { ...SPEC, version: '5.5.0' })).toEqual({ operationId: 'op-3', operationType: 'upgrade', before: { version: '5.4.2' }, after: { version: '5.5.0' } });
    expect(writeBackOfOperation({ id: 'op-4', type: 'disaster-recovery' }, SPEC, { ...SPEC, region: 'us-central1' })).toMatchObject({ before: { region: 'us-east4' }, after: { region: 'us-central1' } });
    expect(writeBackOfOperation({ id: 'op-5', type: 'backup' }, SPEC, SPEC)).toBeUndefined();
  });

  it('a file that is not a YAML mapping is said so, and not overwritten', () => {
    expect(decideWriteBack('- a\n- b\n', UPGRADE).kind).toBe('invalid');
  });
});

describe('recognising a write-back push', () => {
  const message = 'mi: cus-acme version 5.5.0\n\nwritten back\n\nMi-Write-Back: op-1';
  it('only a push by the bot made only of write-back commits', () => {
    expect(writeBackOperationsOfPush({ pusher: 'mi-bot', commits: [{ message }, { message: message.replace('op-1', 'op-2') }] }, 'mi-bot')).toEqual(['op-1', 'op-2']);
    expect(writeBackOperationsOfPush({ pusher: 'mi-bot', commits: [{ message }, { message: 'a person s change' }] }, 'mi-bot')).toBeUndefined();
    expect(writeBackOperationsOfPush({ pusher: 'codertocat', commits: [{ message }] }, 'mi-bot')).toBeUndefined();
    expect(writeBackOperationsOfPush({ pusher: 'mi-bot', commits: [{ message }] }, undefined)).toBeUndefined();
  });
});
