/**
 * The gateway as a Fastify plugin built from its ports: REST /api/v1 (authenticated), health, metrics,
 * OpenAPI and its docs page. `server.ts` owns listen and close; tests `inject` into the same app.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Principal } from './auth.ts';
import type { GatewayPorts } from './ports.ts';
import { installErrorHandling } from './problem.ts';
import { RequestLog } from './requestLog.ts';
import { webhookRoutes } from './webhooks/routes.ts';
import { keyCredentialRoutes } from './routes/keyCredentials.ts';
import { lockDeviceRoutes } from './routes/lockDevices.ts';
import { propertyRoutes } from './routes/properties.ts';
import { Problem } from './schemas.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export interface GatewayOptions {
  /** The service's logger (pino, with its redaction); none by default (tests, the benchmark's REST run). */
  logger?: FastifyBaseLogger;
}

export async function buildGateway(p: GatewayPorts, o: GatewayOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(o.logger ? { loggerInstance: o.logger } : { logger: false }),
    logController: new RequestLog(),
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  app.addSchema(Problem);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'lock-integration-service', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/health/ready', { schema: { hide: true } }, async (_req, reply) => {
    const checks = await p.ready();
    const ok = Object.values(checks).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(p.metrics.registry.contentType).send(await p.metrics.registry.metrics()),
  );

  await app.register(
    webhookRoutes(p.webhookInbox, p.webhookSecrets, {
      refused: (vendor, reason) => p.metrics.webhooksRefused.inc({ vendor, reason }),
    }),
  );
  await app.register(
    async (api) => {
      api.decorateRequest('principal', null as unknown as Principal);
      api.addHook('onRequest', async (req) => {
        req.principal = await p.auth.verify(req.headers.authorization);
      });
      await api.register(propertyRoutes(p));
      await api.register(lockDeviceRoutes(p));
      await api.register(keyCredentialRoutes(p));
    },
    { prefix: '/api/v1' },
  );
  return app;
}
