/**
 * A whole service per test file: its own database, its own stream/subject prefix and lease bucket, its
 * own TTLock simulator. Everything is removed in `close()`.
 */
import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import pg from 'pg';
import { systemClock } from '../../src/ids.ts';
import {
  startTtlockSimulator,
  TTLOCK_SIM_DEFAULTS,
  type TtlockSimulator,
} from '../../src/io/vendors/ttlock/index.ts';
import { type Service, type ServiceSettings, startService } from '../../src/service.ts';

export const PG_ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';
export const NATS_URL = 'nats://127.0.0.1:4222';

export function uniqueId(): string {
  return randomBytes(5).toString('hex');
}

export interface Harness {
  id: string;
  databaseUrl: string;
  prefix: string;
  service: Service;
  ttlock: TtlockSimulator;
  settings: ServiceSettings;
  close(): Promise<void>;
}

export function testSettings(
  id: string,
  ttlockUrl: string,
  over: Partial<ServiceSettings> = {},
): ServiceSettings {
  return {
    databaseUrl: `postgres://postgres@127.0.0.1:5432/lock_test_${id}`,
    natsUrl: NATS_URL,
    prefix: `t${id}`,
    partitions: 8,
    owner: `test-${id}`,
    leaseTtlMs: 3000,
    ackWaitMs: 3000,
    effectTimeoutMs: 2000,
    breaker: { openAfterFailures: 5, resetAfterMs: 1000 },
    secretKeyId: 'test',
    secretKey: randomBytes(32),
    vendorDefaults: { ttlock: { baseUrl: ttlockUrl, ...TTLOCK_SIM_DEFAULTS } },
    secrets: {},
    createPlatformStream: true,
    retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 500 },
    timerPollMs: 50,
    sweepEveryMs: 500,
    effectClaimMs: 2000,
    clock: systemClock,
    log: () => {},
    ...over,
  };
}

export async function startHarness(
  over: Partial<ServiceSettings> = {},
  /** More vendors' simulated configs, beside the harness's own TTLock simulator. */
  moreVendors: Record<string, Record<string, unknown>> = {},
): Promise<Harness> {
  const id = uniqueId();
  const ttlock = await startTtlockSimulator();
  const base = testSettings(id, ttlock.url, over);
  const settings = { ...base, vendorDefaults: { ...base.vendorDefaults, ...moreVendors } };
  const service = await startService(settings);
  return {
    id,
    databaseUrl: settings.databaseUrl,
    prefix: settings.prefix,
    service,
    ttlock,
    settings,
    async close() {
      await service.stop();
      await ttlock.close();
      await dropNats(settings.prefix);
      await dropDatabase(settings.databaseUrl);
    },
  };
}

export async function dropNats(prefix: string): Promise<void> {
  const nc = await natsConnect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(`${prefix}_`) || name === `KV_${prefix}_LOCK_LEASES`)
      await jsm.streams.delete(name).catch(() => {});
  }
  await nc.close();
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const c = new pg.Client({ connectionString: PG_ADMIN });
  await c.connect();
  await c.query(`drop database if exists "${name}" with (force)`);
  await c.end();
}

/** Waits until `check` returns a value (not undefined), re-checking on an interval; throws on timeout. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port nobody listens on now (for a server a test starts on a port it must know in advance). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
