// `node --import ./trace-modules.mjs …`: keeps every module URL the process resolves in globalThis.__modules.
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const { port1, port2 } = new MessageChannel();
const modules = new Set();
globalThis.__modules = modules;
port1.on('message', (url) => modules.add(url));
port1.unref();
register('./trace-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
