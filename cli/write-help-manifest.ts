/** `npm run build`'s last step: the help manifest beside the compiled CLI (cli/help-manifest.ts). */
import { writeFileSync } from 'node:fs';
import { buildHelpManifest } from './help-manifest.js';

const manifest = await buildHelpManifest();
writeFileSync(new URL('./help-manifest.json', import.meta.url), `${JSON.stringify(manifest)}\n`);
process.stdout.write(`help manifest: ${Object.keys(manifest.replies).length} replies, ${manifest.paths.length} command paths\n`);
process.exit(0);
