/**
 * The composition root's settings, read from an environment record (only entry points pass
 * `process.env`). Development defaults make `npm start` work on a fresh machine: a local data key and
 * dev-auth secret are generated once into `.data/dev-keys.json`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { parseEgressAllow } from './io/vendors/egress.ts';
import { isSimLockCount, MAX_SIM_LOCKS } from './io/vendors/simServer.ts';
import { parseEnvAllow } from './io/vendors/vendorConfigPolicy.ts';

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
  /** Migrate at start as `databaseUrl`'s user (MIGRATE_ON_START; default outside production only). */
  migrateOnStart: boolean;
  /** LOCK_RUNTIME_PASSWORD, LOCK_DISPATCHER_PASSWORD: the roles the service runs as. */
  rolePasswords: { runtime?: string; dispatcher?: string };
  natsUrl: string;
  prefix: string;
  partitions: number;
  owner: string;
  vendorMode: 'simulated' | 'live';
  /** Hosts vendor calls may reach although private, and over plain HTTP (VENDOR_EGRESS_ALLOW). */
  vendorEgressAllow: Set<string>;
  /** Tenant → environment variables its adapter configs may name (VENDOR_SECRET_ENV_ALLOW=tenant:VAR,…). */
  vendorSecretEnvAllow: Map<string, Set<string>>;
  /** Wraps each tenant's data key: Cloud KMS (`KMS_KEY_NAME`) or a local key file (`KEK_FILE`). */
  kek: { kind: 'kms'; keyName: string } | { kind: 'file'; file: string; create: boolean };
  /**
   * Signs desk agents' offline-issuance certificates: a Cloud KMS Ed25519 CryptoKeyVersion
   * (`OFFLINE_ISSUANCE_SIGNING_KEY`), or an Ed25519 PKCS#8 PEM file (`OFFLINE_ISSUANCE_KEY_FILE`); outside
   * production, else a key derived from the service's secret.
   */
  offlineIssuance: { kind: 'kms'; keyVersion: string } | { kind: 'file'; file: string } | { kind: 'derived' };
  simulatorBasePort: number;
  /** SIM_LOCKS: locks (doors) of each simulator simulated mode starts; each simulator's default when unset. */
  simulatorLocks?: number;
  auth: { mode: 'dev'; secret: Buffer } | { mode: 'jwks'; jwksUrl: string; issuer: string; audience: string };
  dataKeyId: string;
  dataKey: Buffer;
  leaseTtlMs: number;
  ackWaitMs: number;
  effectTimeoutMs: number;
  breaker: { openAfterFailures: number; resetAfterMs: number };
  waitBudgetMs: number;
  /** CALLS_IN_TURN (true unless `false`): a new credential's issue calls its vendor in the credential's turn. */
  callsInTurn: boolean;
  idempotencyClaimMs: number;
  idempotencyRetentionMs: number;
  createPlatformStream: boolean;
  logLevel: string;
  /** TRUST_PROXY: proxy hops in front of the gateway (the client's address for webhook rate limits). */
  trustProxy: number;
  /** INSPECT_WS_URL: a Stately inspector's WebSocket, fed every committed transition (off when unset). */
  inspectWsUrl: string | null;
  /**
   * OpenTelemetry: OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP; spans exported when set, none otherwise),
   * OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER_ARG (share of new traces recorded, 0..1), OTEL_SDK_DISABLED=true
   * (no tracing installed at all: no trace ids in logs or headers).
   */
  tracing: { disabled: boolean; otlpEndpoint: string | null; serviceName: string; sampleRatio: number };
  /** VENDOR_PROBE_SECONDS: how often the read-only vendor check runs (300; 0: never). */
  vendorProbeEveryMs: number;
  /** TLS_CERT_FILE and TLS_KEY_FILE: the gateway serves HTTPS itself (else plain HTTP behind TLS termination). */
  tls: { certFile: string; keyFile: string } | null;
}

const num = (v: string | undefined, d: number) => (v === undefined || v === '' ? d : Number(v));

/** What migrating and the database roles need, without the rest (the migrate job has no auth settings). */
export function databaseSettingsOf(env: Record<string, string | undefined>) {
  return {
    databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/lock_integration',
    rolePasswords: {
      ...(env.LOCK_RUNTIME_PASSWORD ? { runtime: env.LOCK_RUNTIME_PASSWORD } : {}),
      ...(env.LOCK_DISPATCHER_PASSWORD ? { dispatcher: env.LOCK_DISPATCHER_PASSWORD } : {}),
    },
  };
}

/** Where simulated mode's simulators listen and how many locks each starts with (also `npm run simulators`). */
export function simulatorSettingsOf(env: Record<string, string | undefined>) {
  const text = env.SIM_LOCKS?.trim() ?? '';
  // Digits only: Number() would take '1e3', '0x10' or '+7' for counts nobody meant.
  const locks = text === '' ? undefined : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (locks !== undefined && !isSimLockCount(locks))
    throw new Error(`SIM_LOCKS must be an integer 1..${MAX_SIM_LOCKS}, not ${env.SIM_LOCKS}`);
  return { simulatorBasePort: num(env.SIMULATOR_BASE_PORT, 18080), simulatorLocks: locks };
}

/** Production talks to the vendors unless told otherwise; development to the simulators. */
function vendorModeOf(env: Record<string, string | undefined>, production: boolean): 'simulated' | 'live' {
  return (env.VENDOR_MODE ?? (production ? 'live' : 'simulated')) === 'live' ? 'live' : 'simulated';
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const production = env.NODE_ENV === 'production';
  const vendorMode = vendorModeOf(env, production);
  const dev = production ? null : loadDevKeys(env.DEV_KEYS_DIR ?? '.data');
  const dataKey = env.DATA_KEY
    ? Buffer.from(env.DATA_KEY, 'base64')
    : dev
      ? Buffer.from(dev.dataKey, 'base64')
      : undefined;
  if (!dataKey) throw new Error('DATA_KEY (base64, 32 bytes) is required in production');
  const host = env.HOST ?? '127.0.0.1';
  const auth = authOf(env, production, dev, host);
  return {
    port: num(env.PORT, 8080),
    host,
    ...databaseSettingsOf(env),
    migrateOnStart: env.MIGRATE_ON_START ? env.MIGRATE_ON_START === 'true' : !production,
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    prefix: env.NATS_PREFIX ?? '',
    partitions: num(env.ACTOR_PARTITIONS, 32),
    owner: env.RUNTIME_OWNER ?? `${hostname()}-${process.pid}`,
    vendorMode,
    vendorEgressAllow: parseEgressAllow(env.VENDOR_EGRESS_ALLOW),
    vendorSecretEnvAllow: parseEnvAllow(env.VENDOR_SECRET_ENV_ALLOW),
    offlineIssuance: offlineIssuanceOf(env, production),
    kek: env.KMS_KEY_NAME
      ? { kind: 'kms', keyName: env.KMS_KEY_NAME }
      : {
          kind: 'file',
          file: env.KEK_FILE ?? path.join(env.DEV_KEYS_DIR ?? '.data', 'kek.key'),
          // Outside production the file is made on first start; production must be given one.
          create: !production,
        },
    // Read (and checked) only where there are simulators to start.
    ...(vendorMode === 'simulated'
      ? simulatorSettingsOf(env)
      : { simulatorBasePort: num(env.SIMULATOR_BASE_PORT, 18080) }),
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
    // An operator's switch: a new credential's vendor calls after its commit rather than in its turn.
    callsInTurn: env.CALLS_IN_TURN !== 'false',
    idempotencyClaimMs: num(env.IDEMPOTENCY_CLAIM_MS, 10_000),
    idempotencyRetentionMs: num(env.IDEMPOTENCY_RETENTION_HOURS, 24) * 3_600_000,
    createPlatformStream: env.CREATE_PLATFORM_STREAM ? env.CREATE_PLATFORM_STREAM === 'true' : !production,
    logLevel: env.LOG_LEVEL ?? 'info',
    trustProxy: num(env.TRUST_PROXY, 0),
    tls: tlsOf(env),
    inspectWsUrl: env.INSPECT_WS_URL || null,
    vendorProbeEveryMs: num(env.VENDOR_PROBE_SECONDS, 300) * 1000,
    tracing: {
      disabled: env.OTEL_SDK_DISABLED === 'true',
      otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT || null,
      serviceName: env.OTEL_SERVICE_NAME || 'lock-integration-service',
      sampleRatio: ratioOf(env.OTEL_TRACES_SAMPLER_ARG),
    },
  };
}

/** A share 0..1 (default 1); a value that is no number is refused at start. */
function ratioOf(v: string | undefined): number {
  const r = num(v, 1);
  if (!Number.isFinite(r) || r < 0 || r > 1)
    throw new Error(`OTEL_TRACES_SAMPLER_ARG must be 0..1, not ${v}`);
  return r;
}

function tlsOf(env: Record<string, string | undefined>): { certFile: string; keyFile: string } | null {
  const certFile = env.TLS_CERT_FILE;
  const keyFile = env.TLS_KEY_FILE;
  if (!certFile && !keyFile) return null;
  if (!certFile || !keyFile) throw new Error('TLS_CERT_FILE and TLS_KEY_FILE go together');
  return { certFile, keyFile };
}

/** Loopback addresses only: a development token is printed on start-up, so dev auth never faces a network. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * `AUTH_MODE` says which authentication runs; nothing switches it implicitly. Unset, it is `dev` outside
 * production (the quick start) and an error in production. Dev refuses a non-loopback `HOST`; JWKS needs
 * all three of its settings (an empty issuer or audience would skip that check).
 */
function authOf(
  env: Record<string, string | undefined>,
  production: boolean,
  dev: DevKeys | null,
  host: string,
): Config['auth'] {
  const mode = env.AUTH_MODE || (production ? undefined : 'dev');
  if (mode === 'jwks') {
    const missing = ['AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE'].filter((k) => !env[k]);
    if (missing.length > 0) throw new Error(`AUTH_MODE=jwks needs ${missing.join(', ')}`);
    return {
      mode: 'jwks',
      jwksUrl: env.AUTH_JWKS_URL as string,
      issuer: env.AUTH_ISSUER as string,
      audience: env.AUTH_AUDIENCE as string,
    };
  }
  if (mode === 'dev') {
    if (!isLoopbackHost(host))
      throw new Error(
        `AUTH_MODE=dev listens on loopback only (HOST=${host}); use AUTH_MODE=jwks to serve a network`,
      );
    if (env.AUTH_JWKS_URL) throw new Error('AUTH_JWKS_URL is set but AUTH_MODE is dev; set AUTH_MODE=jwks');
    const secret = env.DEV_AUTH_SECRET ?? dev?.authSecret;
    if (!secret) throw new Error('AUTH_MODE=dev in production needs DEV_AUTH_SECRET');
    return { mode: 'dev', secret: Buffer.from(secret, 'base64') };
  }
  throw new Error(
    mode === undefined ? 'AUTH_MODE (jwks) is required in production' : `AUTH_MODE=${mode}: dev or jwks`,
  );
}

/** Production names its certificate signing key: no silent fallback to a key derived from DATA_KEY. */
function offlineIssuanceOf(
  env: Record<string, string | undefined>,
  production: boolean,
): Config['offlineIssuance'] {
  if (env.OFFLINE_ISSUANCE_SIGNING_KEY) return { kind: 'kms', keyVersion: env.OFFLINE_ISSUANCE_SIGNING_KEY };
  if (env.OFFLINE_ISSUANCE_KEY_FILE) return { kind: 'file', file: env.OFFLINE_ISSUANCE_KEY_FILE };
  if (production)
    throw new Error(
      'OFFLINE_ISSUANCE_SIGNING_KEY (a Cloud KMS Ed25519 key version) or OFFLINE_ISSUANCE_KEY_FILE is required in production',
    );
  return { kind: 'derived' };
}
