// Module loader hooks (off the main thread): every module a process resolves is posted back.
let port;
export function initialize(data) {
  port = data.port;
}
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  port?.postMessage(resolved.url);
  return resolved;
}
