/**
 * The gateway as a Fastify plugin built from its ports: REST /api/v1 (authenticated), health, metrics,
 * OpenAPI and its docs page. `server.ts` owns listen and close; tests `inject` into the same app.
 */
import { inspectApiRoutes, inspectPageRoutes } from './routes/inspect.ts';
import { asyncapiRoutes } from './routes/asyncapi.ts';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { LockError } from '../errors.ts';
import { jsonbRefuses } from '../io/db/jsonbText.ts';
import type { Principal } from './auth.ts';
import { answersStored } from './idempotency.ts';
import type { GatewayPorts } from './ports.ts';
import { installErrorHandling } from './problem.ts';
import { RequestLog } from './requestLog.ts';
import { installRequestTracing } from './tracing.ts';
import { webhookRoutes } from './webhooks/routes.ts';
import { keyCredentialRoutes } from './routes/keyCredentials.ts';
import { pinReadRoutes } from './routes/pinReads.ts';
import { agentRoutes } from './routes/agents.ts';
import { syncRoutes } from './routes/sync.ts';
import { vendorSwitchRoutes } from './routes/vendorSwitches.ts';
import { lockDeviceRoutes } from './routes/lockDevices.ts';
import { propertyRoutes } from './routes/properties.ts';
import { Problem } from './schemas.ts';
import type { Scope } from './scopes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** The scope a token needs for the route; every /api/v1 route names one (checked at start-up). */
    scope?: Scope;
  }
}

export interface GatewayOptions {
  /** The service's logger (pino, with its redaction); none by default (tests, the benchmark's REST run). */
  logger?: FastifyBaseLogger;
  /** Webhook rate limits (per source address, per endpoint, refusals per source). */
  webhookLimits?: {
    perSourcePerSecond?: number;
    perEndpointPerSecond?: number;
    refusedPerSourcePerSecond?: number;
  };
  /**
   * Behind a load balancer: how many proxy hops to trust for the client's address (`X-Forwarded-For`), so
   * that per-address limits see clients, not the balancer. None by default.
   */
  trustProxy?: number;
  /** Serve HTTPS (PEM certificate chain and key): the desks' `/sync/v1` and the API without a terminating proxy. */
  https?: { cert: string; key: string };
}

/**
 * JSON bodies are parsed as Fastify does by default, after one check: text jsonb cannot hold (a NUL, an
 * unpaired surrogate escape) is a 400 here, not a failed statement later (which, batched, would fail other
 * tenants' requests with it).
 */
function refuseUnstorableJson(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body.toString(); // a string: parseAs 'string'
    if (jsonbRefuses(text)) {
      done(new LockError('LOCK.VALIDATION', 'the body holds a NUL or an unpaired surrogate'), undefined);
      return;
    }
    void parse(req, text, done);
  });
}

export async function buildGateway(p: GatewayPorts, o: GatewayOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(o.logger ? { loggerInstance: o.logger } : { logger: false }),
    logController: new RequestLog(),
    ...(o.trustProxy ? { trustProxy: (_address: string, hop: number) => hop < (o.trustProxy ?? 0) } : {}),
    bodyLimit: 64 * 1024,
    ...(o.https ? { https: o.https } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  installRequestTracing(app);
  refuseUnstorableJson(app);
  app.addSchema(Problem);
  // Answers already sent are stored before the gateway reports itself closed (and its pool may end).
  app.addHook('onClose', async () => answersStored(p.runtimeDb));
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
  await app.register(asyncapiRoutes());

  app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/health/ready', { schema: { hide: true } }, async (_req, reply) => {
    const checks = await p.ready();
    const ok = Object.values(checks).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(p.metrics.registry.contentType).send(await p.metrics.registry.metrics()),
  );

  // The inspector's page and scripts (no data in them; the page asks /api/v1/inspect with the caller's token).
  await app.register(inspectPageRoutes());
  // The desk agents' own surface: signed requests, no bearer token.
  await app.register(syncRoutes(p));
  await app.register(
    webhookRoutes(p.webhookInbox, p.webhookEndpoints, {
      ...o.webhookLimits,
      refused: (vendor, reason) => p.metrics.webhooksRefused.inc({ vendor, reason }),
    }),
  );
  await app.register(
    async (api) => {
      api.decorateRequest('principal', null as unknown as Principal);
      // Deny by default: a route that names no scope is a programming error, found when the app is built.
      api.addHook('onRoute', (route) => {
        const scope = route.config?.scope;
        if (!scope) throw new Error(`${String(route.method)} ${route.url} names no scope`);
        // OpenAPI 3.1 lets an http security scheme list role names: the scope each operation needs.
        route.schema = { ...route.schema, security: [{ bearer: [scope] }] };
      });
      api.addHook('onRequest', async (req) => {
        req.principal = await p.auth.verify(req.headers.authorization);
        const scope = req.routeOptions.config.scope;
        if (!scope || !req.principal.scopes.has(scope))
          throw new LockError('LOCK.FORBIDDEN', `this needs a token with the ${scope ?? 'right'} scope`);
      });
      await api.register(propertyRoutes(p));
      await api.register(lockDeviceRoutes(p));
      await api.register(keyCredentialRoutes(p));
      await api.register(pinReadRoutes(p));
      await api.register(agentRoutes(p));
      await api.register(vendorSwitchRoutes(p));
      await api.register(inspectApiRoutes(p));
    },
    { prefix: '/api/v1' },
  );
  return app;
}
