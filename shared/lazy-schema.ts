/**
 * Schemas built on first use. Every zod constructor and every chained check builds an object,
 * and a function's cold start loads the schemas of every module it imports (the whole event
 * catalogue, the environment, the notify routes) while its first message needs a few: built at
 * load, they were most of the time a bundle took to load past the Google clients (issue 18).
 */

/**
 * Stands for the schema `build` returns, building it on first use (once): parsing, composing it
 * into other schemas, `instanceof`, its properties, all reach the built schema. Names and types
 * stay as they were: `export const idSchema = lazySchema(() => z.string().regex(ID))`, and
 * `z.infer<typeof idSchema>` is the built schema's. Inside `build`, use other lazy schemas
 * freely; outside one, calling a method of a lazy schema at module top level (`.optional()`)
 * builds it there and then.
 */
export function lazySchema<T extends object>(build: () => T): T {
  let built: T | undefined;
  const schema = (): T => (built ??= build());
  // The target stays empty: every trap answers from the built schema. A property is reported
  // configurable (zod defines `_zod` as not), since a proxy may not report a non-configurable
  // property its target lacks.
  return new Proxy({} as T, {
    get: (_target, key) => Reflect.get(schema(), key),
    set: (_target, key, value) => Reflect.set(schema(), key, value),
    has: (_target, key) => Reflect.has(schema(), key),
    ownKeys: () => Reflect.ownKeys(schema()),
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(schema(), key);
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
    },
    defineProperty: (_target, key, descriptor) => Reflect.defineProperty(schema(), key, descriptor),
    deleteProperty: (_target, key) => Reflect.deleteProperty(schema(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(schema()),
  });
}
