/** `npm run build`'s last step, after tsc and the help manifest: the functions' bundles and `mi`'s. */
import { bundleCli } from './bundle-cli.js';
import { bundleFunctions } from './bundle-functions.js';

const lines = [...(await bundleFunctions()), ...(await bundleCli())];
process.stdout.write(`${lines.join('\n')}\n`);
