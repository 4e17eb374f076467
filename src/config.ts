/**
 * The composition root's settings, read from an environment record (only entry points pass
 * `process.env`). Development defaults make `npm start` work on a fresh machine: a local data key and
 * dev-auth secret are generated once into `.data/dev-keys.json`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

export interface DevKeys {
  authSecret: string;
  dataKey: string;
}

export function loadDevKeys(dir = '.data'): DevKeys {
  const file = path.join(dir, 'dev-keys.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevKeys;
  mkdirSync(dir, { recursive: true });
  const keys = {
    authSecret: randomBytes(32).toString('base64'),
    dataKey: randomBytes(32).toString('base64'),
  };
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  natsUrl: string;
  prefix: string;
  partitions: number;
  owner: string;
  vendorMode: 'simulated' | 'live';
  simulatorBasePort: number;
  auth: { mode: 'dev'; secret: Buffer } | { mode: 'jwks'; jwksUrl: string; issuer: string; audience: string };
  dataKeyId: string;
  dataKey: Buffer;
  leaseTtlMs: number;
  ackWaitMs: number;
  effectTimeoutMs: number;
  breaker: { openAfterFailures: number; resetAfterMs: number };
  waitBudgetMs: number;
  idempotencyClaimMs: number;
  idempotencyRetentionMs: number;
  /** Vendor webhook secrets: Seam's Svix signing secret, TTLock's callback URL token. */
  webhookSecrets: { seam?: string; ttlock?: string };
  createPlatformStream: boolean;
  logLevel: string;
}

const num = (v: string | undefined, d: number) => (v === undefined || v === '' ? d : Number(v));

export function loadConfig(env: Record<string, string | undefined>): Config {
  const production = env.NODE_ENV === 'production';
  const dev = production ? null : loadDevKeys(env.DEV_KEYS_DIR ?? '.data');
  const dataKey = env.DATA_KEY
    ? Buffer.from(env.DATA_KEY, 'base64')
    : dev
      ? Buffer.from(dev.dataKey, 'base64')
      : undefined;
  if (!dataKey) throw new Error('DATA_KEY (base64, 32 bytes) is required in production');
  let auth: Config['auth'];
  if (env.AUTH_JWKS_URL) {
    auth = {
      mode: 'jwks',
      jwksUrl: env.AUTH_JWKS_URL,
      issuer: env.AUTH_ISSUER ?? '',
      audience: env.AUTH_AUDIENCE ?? '',
    };
  } else if (dev) {
    auth = { mode: 'dev', secret: Buffer.from(env.DEV_AUTH_SECRET ?? dev.authSecret, 'base64') };
  } else {
    throw new Error('AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE are required in production');
  }
  return {
    port: num(env.PORT, 8080),
    host: env.HOST ?? '127.0.0.1',
    databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/lock_integration',
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    prefix: env.NATS_PREFIX ?? '',
    partitions: num(env.ACTOR_PARTITIONS, 32),
    owner: env.RUNTIME_OWNER ?? `${hostname()}-${process.pid}`,
    vendorMode: env.VENDOR_MODE === 'live' ? 'live' : 'simulated',
    simulatorBasePort: num(env.SIMULATOR_BASE_PORT, 18080),
    auth,
    dataKeyId: env.DATA_KEY_ID ?? 'dev',
    dataKey,
    leaseTtlMs: num(env.LEASE_TTL_MS, 10_000),
    ackWaitMs: num(env.ACK_WAIT_MS, 10_000),
    effectTimeoutMs: num(env.VENDOR_TIMEOUT_MS_DEFAULT, 4000),
    breaker: {
      openAfterFailures: num(env.CIRCUIT_BREAKER_OPEN_AFTER_FAILURES, 20),
      resetAfterMs: num(env.CIRCUIT_BREAKER_RESET_AFTER_SECONDS, 30) * 1000,
    },
    waitBudgetMs: num(env.WAIT_BUDGET_MS, 1000),
    idempotencyClaimMs: num(env.IDEMPOTENCY_CLAIM_MS, 10_000),
    idempotencyRetentionMs: num(env.IDEMPOTENCY_RETENTION_HOURS, 24) * 3_600_000,
    webhookSecrets: {
      ...(env.SEAM_WEBHOOK_SECRET ? { seam: env.SEAM_WEBHOOK_SECRET } : {}),
      ...(env.TTLOCK_WEBHOOK_TOKEN ? { ttlock: env.TTLOCK_WEBHOOK_TOKEN } : {}),
    },
    createPlatformStream: env.CREATE_PLATFORM_STREAM ? env.CREATE_PLATFORM_STREAM === 'true' : !production,
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}
