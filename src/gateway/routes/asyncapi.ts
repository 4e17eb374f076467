/**
 * The service's NATS contract (docs/asyncapi.md): `/asyncapi.json`, the AsyncAPI document generated from the
 * schemas the code validates with, and `/asyncapi`, the same as a page. Public, like `/openapi.json`: it
 * describes subjects and shapes, no data. Built on the first request, then served as built.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type AsyncApiDocument, buildAsyncApi, serviceVersion } from '../../contracts/index.ts';
import { ASYNCAPI_PAGE_CSP, renderAsyncApiPage } from '../asyncapi/page.ts';

export function asyncapiRoutes(
  document: () => AsyncApiDocument = () => buildAsyncApi(serviceVersion()),
): FastifyPluginAsyncTypebox {
  let built: { json: string; html: string } | undefined;
  const served = () => {
    if (!built) {
      const doc = document();
      built = { json: JSON.stringify(doc), html: renderAsyncApiPage(doc) };
    }
    return built;
  };
  return async (app) => {
    app.get('/asyncapi.json', { schema: { hide: true } }, async (_req, reply) =>
      reply.type('application/json; charset=utf-8').send(served().json),
    );
    app.get('/asyncapi', { schema: { hide: true } }, async (_req, reply) =>
      reply
        .header('content-security-policy', ASYNCAPI_PAGE_CSP)
        .header('x-content-type-options', 'nosniff')
        .type('text/html; charset=utf-8')
        .send(served().html),
    );
  };
}
