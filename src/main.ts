/** The service's entry point and composition root: the only reader of process.env. */
import { readFileSync } from 'node:fs';
import { type Config, loadConfig } from './config.ts';
import { buildGateway } from './gateway/app.ts';
import { createDevAuthenticator, createJwksAuthenticator, signDevToken } from './gateway/auth.ts';
import { systemClock } from './ids.ts';
import { cloudKmsKek, createKmsClient, localKek } from './io/crypto/keyEncryption.ts';
import { cloudKmsOfflineSigner, localOfflineSigner } from './io/crypto/offlineSigner.ts';
import { createLogger } from './logger.ts';
import { startTracing } from './observability/tracing.ts';
import { gatewayPorts, startService } from './service.ts';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (e) {
  // A setting that is missing or unsafe: say which, without a stack trace, and do not start.
  console.error(`lock-integration-service: not started: ${(e as Error).message}`);
  process.exit(1);
}
// First, so every span and log line after it carries trace ids (exported only with a collector).
const tracing = config.tracing.disabled ? null : await startTracing(config.tracing);
const log = createLogger(config.logLevel);
// The simulators (and what they need: the Seam fake, certificate generation) are development packages:
// loaded only in simulated mode, so a production install without them starts.
const sims =
  config.vendorMode === 'simulated'
    ? await (
        await import('./io/vendors/simulators.ts')
      ).ensureSimulators(config.simulatorBasePort, {
        startMissing: true,
        locks: config.simulatorLocks,
      })
    : { defaults: {}, started: [] as string[], close: async () => {} };
let service: Awaited<ReturnType<typeof startService>>;
try {
  service = await startService({
    databaseUrl: config.databaseUrl,
    migrateOnStart: config.migrateOnStart,
    rolePasswords: config.rolePasswords,
    natsUrl: config.natsUrl,
    prefix: config.prefix,
    partitions: config.partitions,
    owner: config.owner,
    leaseTtlMs: config.leaseTtlMs,
    ackWaitMs: config.ackWaitMs,
    effectTimeoutMs: config.effectTimeoutMs,
    callsInTurn: config.callsInTurn,
    breaker: config.breaker,
    secretKeyId: config.dataKeyId,
    secretKey: config.dataKey,
    vendorDefaults: config.vendorMode === 'simulated' ? sims.defaults : {},
    secrets: process.env,
    vendorPolicy: {
      mode: config.vendorMode,
      egress: { allow: config.vendorEgressAllow },
      envAllow: config.vendorSecretEnvAllow,
    },
    ...(config.offlineIssuance.kind === 'kms'
      ? { offlineSigner: cloudKmsOfflineSigner(await createKmsClient(), config.offlineIssuance.keyVersion) }
      : config.offlineIssuance.kind === 'file'
        ? { offlineSigner: localOfflineSigner(readFileSync(config.offlineIssuance.file, 'utf8')) }
        : {}),
    kek:
      config.kek.kind === 'kms'
        ? cloudKmsKek(await createKmsClient(), config.kek.keyName)
        : localKek(config.kek.file, { create: config.kek.create }),
    createPlatformStream: config.createPlatformStream,
    ...(config.inspectWsUrl ? { inspectWsUrl: config.inspectWsUrl } : {}),
    idempotencyClaimMs: config.idempotencyClaimMs,
    idempotencyRetentionMs: config.idempotencyRetentionMs,
    vendorProbeEveryMs: config.vendorProbeEveryMs,
    clock: systemClock,
    log: (msg, data) => log.info(data ?? {}, msg),
  });
} catch (e) {
  // A dependency missing or refusing (the database, NATS, the platform's stream): say which, and stop.
  console.error(`lock-integration-service: not started: ${(e as Error).message}`);
  await sims.close();
  process.exit(1);
}
const auth =
  config.auth.mode === 'dev'
    ? createDevAuthenticator(config.auth.secret)
    : createJwksAuthenticator(config.auth);
const app = await buildGateway(gatewayPorts(service, auth, config.waitBudgetMs, systemClock), {
  logger: log,
  trustProxy: config.trustProxy,
  ...(config.tls
    ? {
        https: {
          cert: readFileSync(config.tls.certFile, 'utf8'),
          key: readFileSync(config.tls.keyFile, 'utf8'),
        },
      }
    : {}),
});
await app.listen({ port: config.port, host: config.host });

const base = `${config.tls ? 'https' : 'http'}://${config.host}:${config.port}`;
if (config.auth.mode === 'dev') {
  const token = await signDevToken(config.auth.secret, 'dev-tenant');
  // The inspector's link carries a read-only token (in the fragment: it never reaches a server log).
  const readToken = await signDevToken(config.auth.secret, 'dev-tenant', { scopes: ['lock:read'] });
  console.log(`
lock-integration-service is up on ${base}  (vendors: ${config.vendorMode}${sims.started.length ? `, started ${sims.started.join(', ')} simulators` : ''})
  API docs   ${base}/docs          OpenAPI ${base}/openapi.json
  health     ${base}/health/ready  metrics ${base}/metrics
  inspector  ${base}/inspect#token=${readToken}
  dev token (tenant dev-tenant; another: npm run -s lock:cli -- token --tenant <id>):
  export TOKEN=${token}
  curl -s -X POST ${base}/api/v1/properties -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"Hotel Demo","timezone":"Europe/Berlin"}'
`);
}

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  log.info({ signal }, 'shutting down');
  await app.close();
  await service.stop();
  await sims.close();
  await tracing?.shutdown();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
