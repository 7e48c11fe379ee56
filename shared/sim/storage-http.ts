/**
 * The simulated Cloud Storage served on the JSON API's paths for objects.get with alt=media and
 * objects.insert as a simple media upload, so the real reader and writer run against it in
 * `mi dev` and the tests as against Google. A missing object answers 404, a create of a taken
 * name 412, a locked bucket's refusal 403, each with Cloud Storage's error body; injected faults
 * answer their status.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { ControlPlaneError } from '../errors.js';
import { listenLocally } from './local-server.js';
import type { SimulatedStorage } from './storage.js';

export interface StorageServer {
  url: string;
  close(): Promise<void>;
}

/** Cloud Storage's error body (it carries errors[].reason, not a status name). */
function storageError(code: number, message: string, reason: string): string {
  return JSON.stringify({ error: { code, message, errors: [{ message, domain: 'global', reason }] } });
}

const JSON_TYPE = { 'content-type': 'application/json; charset=UTF-8' };

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The Object resource objects.insert answers (the JSON API reference's fields, those a simulator can know). */
function objectResource(bucket: string, name: string, generation: string, bytes: Buffer, contentType: string, at: Date) {
  return {
    kind: 'storage#object',
    id: `${bucket}/${name}/${generation}`,
    selfLink: `https://www.googleapis.com/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`,
    name,
    bucket,
    generation,
    metageneration: '1',
    contentType,
    storageClass: 'STANDARD',
    size: String(bytes.length),
    md5Hash: createHash('md5').update(bytes).digest('base64'),
    timeCreated: at.toISOString(),
    updated: at.toISOString(),
  };
}

export async function serveStorage(sim: SimulatedStorage, options: { port?: number; clock?: { now(): Date } } = {}): Promise<StorageServer> {
  const clock = options.clock ?? { now: () => new Date() };
  const server: Server = createServer((req, res) => {
    void (async (): Promise<void> => {
      const url = new URL(req.url ?? '/', 'http://storage');
      const read = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
      const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
      try {
        if (read !== null && req.method === 'GET' && url.searchParams.get('alt') === 'media') {
          const bucket = decodeURIComponent(read[1] ?? '');
          const name = decodeURIComponent(read[2] ?? '');
          const found = await sim.readText(`gs://${bucket}/${name}`);
          if (found === undefined) {
            res.writeHead(404, JSON_TYPE).end(storageError(404, `No such object: ${bucket}/${name}`, 'notFound'));
            return;
          }
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(Buffer.byteLength(found.text)) }).end(found.text);
          return;
        }
        if (upload !== null && req.method === 'POST' && url.searchParams.get('uploadType') === 'media') {
          const bucket = decodeURIComponent(upload[1] ?? '');
          const name = url.searchParams.get('name');
          if (name === null || name === '') {
            res.writeHead(400, JSON_TYPE).end(storageError(400, 'Required parameter: name', 'required'));
            return;
          }
          const bytes = await readBody(req);
          const objectUrl = `gs://${bucket}/${name}`;
          const condition = url.searchParams.get('ifGenerationMatch');
          let generation: string;
          if (condition === '0') {
            generation = (await sim.insert(objectUrl, bytes)).generation;
          } else if (condition === null) {
            sim.put(objectUrl, bytes);
            generation = sim.generationOf(objectUrl) ?? '0';
          } else {
            res.writeHead(400, JSON_TYPE).end(storageError(400, `the simulator supports ifGenerationMatch=0 only, not ${condition}`, 'invalid'));
            return;
          }
          res.writeHead(200, JSON_TYPE).end(JSON.stringify(objectResource(bucket, name, generation, bytes, req.headers['content-type'] ?? 'application/octet-stream', clock.now())));
          return;
        }
        res.writeHead(404, JSON_TYPE).end(storageError(404, `no such method: ${req.method ?? ''} ${url.pathname}`, 'notFound'));
      } catch (error) {
        const http = error instanceof ControlPlaneError && typeof error.details.httpStatus === 'number' ? error.details.httpStatus : 500;
        const reason = http === 403 ? 'retentionPolicyNotMet' : http === 412 ? 'conditionNotMet' : http === 429 ? 'rateLimitExceeded' : http >= 500 ? 'backendError' : 'invalid';
        res.writeHead(http, JSON_TYPE).end(storageError(http, error instanceof Error ? error.message : String(error), reason));
      }
    })();
  });
  return listenLocally(server, options.port);
}
