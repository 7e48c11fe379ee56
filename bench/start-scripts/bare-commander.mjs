// The floor of `mi --version` and `mi --help`: node loading commander and answering.
import process from 'node:process';
import { Command } from 'commander';

new Command().name('mi').version('0.1.0', '-V, --version').option('--project <id>').parse(process.argv);
