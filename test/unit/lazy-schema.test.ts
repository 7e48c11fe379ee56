import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { lazySchema } from '../../shared/lazy-schema.js';

describe('lazySchema', () => {
  it('builds nothing until first used, then builds once', () => {
    let builds = 0;
    const id = lazySchema(() => {
      builds += 1;
      return z.string().regex(/^[a-z]+$/, { error: 'expected an id' });
    });
    const wrapper = lazySchema(() => z.strictObject({ id }));
    expect(builds).toBe(0);
    expect(wrapper.parse({ id: 'abc' })).toEqual({ id: 'abc' });
    expect(id.parse('xyz')).toBe('xyz');
    expect(builds).toBe(1);
  });

  it('parses, fails and composes exactly as the schema it stands for', () => {
    const build = () =>
      z.discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('a'), id: z.string().regex(/^[a-z]+$/, { error: 'expected an id' }).optional() }),
        z.strictObject({ kind: z.literal('b'), at: z.iso.datetime({ offset: true }) }),
      ]);
    const eager = build();
    const lazy = lazySchema(build);
    for (const input of [{ kind: 'a', id: 'ok' }, { kind: 'a' }, { kind: 'a', id: 'NO' }, { kind: 'c' }, { kind: 'b', at: 'soon' }, { kind: 'a', extra: 1 }, 'text']) {
      expect(lazy.safeParse(input, { reportInput: true })).toEqual(eager.safeParse(input, { reportInput: true }));
    }
    expect(() => lazy.parse('text')).toThrow(z.ZodError);
    expect(z.strictObject({ inner: lazy.optional() }).safeParse({}).success).toBe(true);
  });

  it('is an instance of the built schema\'s classes and exposes its properties', () => {
    const spec = lazySchema(() => z.strictObject({ note: z.string().max(5) }));
    expect(spec).toBeInstanceOf(z.ZodType);
    expect(spec).toBeInstanceOf(z.ZodObject);
    expect(Object.keys(spec.shape)).toEqual(['note']);
    expect(spec.shape.note.safeParse('too long').success).toBe(false);
  });
});
