/**
 * The inspector (`docs/inspector.md`): `/inspect` is a page served by the gateway itself — its script and
 * Mermaid from `node_modules`, nothing from a CDN — that holds no data; it asks, with the caller's `lock:read`
 * token, `/api/v1/inspect/*`: the machines drawn from their definitions, the tenant's actors (filtered by type,
 * property and state), one actor's redacted context and timeline, and a Server-Sent Events stream of the
 * tenant's committed transitions.
 */
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { LockError } from '../../errors.ts';
import type { GatewayPorts } from '../ports.ts';
import { problemResponses } from '../schemas.ts';
import { INSPECT_HTML, INSPECT_JS } from '../inspect/page.ts';

const mermaidFile = path.join(
  path.dirname(createRequire(import.meta.url).resolve('mermaid/package.json')),
  'dist',
  'mermaid.min.js',
);
/** The page runs its own script and Mermaid only; Mermaid writes its styles inline into the SVG. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:";

/** The page and its scripts: public (they hold no data), under `/inspect`. */
export function inspectPageRoutes(): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/inspect', { schema: { hide: true } }, async (_req, reply) =>
      reply.header('content-security-policy', CSP).type('text/html; charset=utf-8').send(INSPECT_HTML),
    );
    app.get('/inspect/inspect.js', { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(INSPECT_JS),
    );
    app.get('/inspect/mermaid.min.js', { schema: { hide: true } }, async (_req, reply) =>
      reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=86400')
        .send(createReadStream(mermaidFile)),
    );
  };
}

const read = { config: { scope: 'lock:read' as const } };
const problems = problemResponses(400, 401, 403, 404);

/** The data the page reads, under `/api/v1` (bearer token, `lock:read`, the caller's tenant only). */
/** A stream whose reader lags this far behind is dropped rather than buffered (its page reconnects). */
const STREAM_BUFFER_LIMIT = 1_000_000;

export function inspectApiRoutes(p: GatewayPorts): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Open streams end when the gateway closes: a hijacked answer would otherwise hold the shutdown open.
    const streams = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const end of streams) end();
    });
    app.get(
      '/inspect/machines',
      {
        ...read,
        schema: {
          tags: ['inspector'],
          summary: 'Every machine as a Mermaid state diagram, drawn from its definition',
          response: {
            200: Type.Object({ machines: Type.Record(Type.String(), Type.String()) }),
            ...problems,
          },
        },
      },
      async () => ({ machines: p.inspector.machines() }),
    );

    app.get(
      '/inspect/actors',
      {
        ...read,
        schema: {
          tags: ['inspector'],
          summary: "The tenant's actors, newest change first",
          querystring: Type.Object({
            type: Type.Optional(Type.String({ maxLength: 40 })),
            propertyId: Type.Optional(Type.String({ maxLength: 128 })),
            state: Type.Optional(Type.String({ maxLength: 64 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
          }),
          response: {
            200: Type.Object({ items: Type.Array(Type.Record(Type.String(), Type.Unknown())) }),
            ...problems,
          },
        },
      },
      async (req) => {
        const q = req.query;
        const items = await p.inspector.store.actors(req.principal.tenantId, {
          ...(q.type ? { type: q.type } : {}),
          ...(q.propertyId ? { propertyId: q.propertyId } : {}),
          ...(q.state ? { state: q.state } : {}),
          limit: q.limit ?? 100,
        });
        return { items: items as unknown as Record<string, unknown>[] };
      },
    );

    app.get(
      '/inspect/actors/:type/:id',
      {
        ...read,
        schema: {
          tags: ['inspector'],
          summary:
            "One actor: its state, redacted context and timeline (events, states, the vendors' answers)",
          params: Type.Object({ type: Type.String({ maxLength: 40 }), id: Type.String({ maxLength: 300 }) }),
          response: { 200: Type.Record(Type.String(), Type.Unknown()), ...problems },
        },
      },
      async (req) => {
        const found = await p.inspector.store.actor(req.principal.tenantId, req.params.type, req.params.id);
        if (!found) throw new LockError('LOCK.NOT_FOUND', `${req.params.type} ${req.params.id}`);
        return found as unknown as Record<string, unknown>;
      },
    );

    app.get(
      '/inspect/stream',
      {
        ...read,
        schema: {
          tags: ['inspector'],
          summary:
            "The tenant's committed transitions as Server-Sent Events (type, id, version, state, event)",
          response: {
            200: {
              description:
                'an endless stream of `data: {type, id, version, status, state, event, propertyId}` events',
              content: { 'text/event-stream': { schema: Type.String() } },
            },
          },
        },
      },
      async (req, reply) => {
        reply.hijack();
        const out = reply.raw;
        out.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        out.write(': connected\n\n');
        const stop = p.inspector.feed(req.principal.tenantId, (n) => {
          if (out.writableLength > STREAM_BUFFER_LIMIT) {
            out.destroy();
            return;
          }
          out.write(
            `data: ${JSON.stringify({ type: n.type, id: n.id, version: n.version, status: n.status, state: n.state, event: n.event ?? null, propertyId: n.propertyId ?? null })}\n\n`,
          );
        });
        // A comment now and then keeps proxies from closing a quiet stream.
        const beat = setInterval(() => out.write(': beat\n\n'), 15_000);
        const end = () => {
          clearInterval(beat);
          stop();
          streams.delete(end);
          out.end();
        };
        streams.add(end);
        req.raw.on('close', end);
      },
    );
  };
}
