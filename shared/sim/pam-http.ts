/**
 * The simulated PAM served over HTTP on the v1 REST paths (and Resource Manager's v3
 * getIamPolicy for the simulated policies), so that `mi access` in another process, through
 * the real adapter, runs the same flow as against Google. The caller is the bearer token's
 * verified email, as PAM takes it from the caller's credentials.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { ControlPlaneError } from '../errors.js';
import type { IdentityPort } from '../ports.js';
import type { SimulatedPam } from './pam.js';
import { listenLocally } from './local-server.js';

export interface PamServer {
  url: string;
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

export async function servePam(pam: SimulatedPam, identity: IdentityPort, options: { port?: number; audience?: (url: string) => string } = {}): Promise<PamServer> {
  let url = '';
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const fail = (error: unknown) => {
      if (error instanceof ControlPlaneError) {
        const status = typeof error.details.status === 'string' ? error.details.status : 'INTERNAL';
        const http = typeof error.details.httpStatus === 'number' ? error.details.httpStatus : error.code === 'unauthenticated' ? 401 : 500;
        send(http, { error: { code: http, message: error.message, status: error.code === 'unauthenticated' ? 'UNAUTHENTICATED' : status } });
      } else send(500, { error: { code: 500, message: String(error), status: 'INTERNAL' } });
    };
    void (async () => {
      try {
        const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
        if (bearer === undefined) throw new ControlPlaneError('unauthenticated', 'Request is missing required authentication credential.');
        const caller = (await identity.verify(bearer, options.audience?.(url) ?? url)).email;
        const target = new URL(req.url ?? '/', url);
        const path = decodeURIComponent(target.pathname);
        const body = req.method === 'POST' ? await bodyOf(req) : {};
        let match: RegExpExecArray | null;
        if ((match = /^\/v3\/((?:folders|projects)\/[^/:]+):getIamPolicy$/.exec(path)) && req.method === 'POST') return send(200, pam.policies.policyOf(match[1] ?? ''));
        if ((match = /^\/v1\/(.+\/entitlements\/[^/]+)\/grants:search$/.exec(path)) && req.method === 'GET') {
          const relationship = target.searchParams.get('callerRelationship');
          if (relationship !== 'HAD_CREATED' && relationship !== 'CAN_APPROVE' && relationship !== 'HAD_APPROVED') throw new ControlPlaneError('invalid-message', 'caller_relationship is required.', { details: { status: 'INVALID_ARGUMENT', httpStatus: 400 } });
          return send(200, { grants: pam.list(match[1] ?? '', caller, relationship) });
        }
        if ((match = /^\/v1\/(.+\/entitlements\/[^/]+)\/grants$/.exec(path))) {
          if (req.method === 'POST') return send(200, pam.create(caller, match[1] ?? '', body));
          if (req.method === 'GET') return send(200, { grants: pam.list(match[1] ?? '') });
        }
        if ((match = /^\/v1\/(.+\/grants\/[^/:]+):(approve|deny|revoke)$/.exec(path)) && req.method === 'POST') {
          const [, name = '', verb] = match;
          if (verb === 'approve') return send(200, pam.approve(caller, name, text(body.reason)));
          if (verb === 'deny') return send(200, pam.deny(caller, name, text(body.reason)));
          const revoked = pam.revoke(caller, name, text(body.reason));
          // revoke is a long-running operation; the simulator's is done at once.
          return send(200, { name: `${name.slice(0, name.indexOf('/entitlements/'))}/operations/revoke-${revoked.name.slice(-8)}`, done: true, response: { '@type': 'type.googleapis.com/google.cloud.privilegedaccessmanager.v1.Grant', ...revoked } });
        }
        if ((match = /^\/v1\/(.+\/grants\/[^/:]+)$/.exec(path)) && req.method === 'GET') return send(200, pam.get(match[1] ?? ''));
        send(404, { error: { code: 404, message: `no such method: ${req.method ?? ''} ${path}`, status: 'NOT_FOUND' } });
      } catch (error) {
        fail(error);
      }
    })();
  });
  const local = await listenLocally(server, options.port);
  url = local.url;
  return local;
}
