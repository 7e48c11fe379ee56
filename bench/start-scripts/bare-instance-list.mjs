// The floor of `mi instance list`: node loading the Firestore client and running the same query
// (the instances, by id, one page), printing one line per instance.
import process from 'node:process';
import { Firestore } from '@google-cloud/firestore';

const firestore = new Firestore({ projectId: process.argv[2] });
const page = await firestore.collection('instances').orderBy('__name__').limit(300).get();
for (const doc of page.docs) process.stdout.write(`${doc.id} ${doc.get('status')}\n`);
process.exit(0);
