/**
 * `POST /_sim/locks {"count": n}` against every vendor simulator (one suite, every implementation): lock n,
 * numbered as the seed numbers them, is a lock the vendor's adapter lists and issues on; nothing already
 * there is lost; `/_sim/reset` keeps the count; a body that is not a count is 400 and changes nothing.
 * Then SIM_LOCKS: `ensureSimulators` starts every simulator with that many locks.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsOf } from '../../src/config.ts';
import { systemClock } from '../../src/ids.ts';
import type { LockAdapter } from '../../src/io/vendors/port.ts';
import {
  createSaltoKsAdapter,
  SALTO_KS_SIM_DEFAULTS,
  startSaltoKsSimulator,
} from '../../src/io/vendors/saltoKs/index.ts';
import {
  createSaltoSpaceAdapter,
  SALTO_SPACE_SIM_DEFAULTS,
  startSaltoSpaceSimulator,
} from '../../src/io/vendors/saltoSpace/index.ts';
import { createSeamAdapter, startSeamFake } from '../../src/io/vendors/seam/index.ts';
import { startSimServer } from '../../src/io/vendors/simServer.ts';
import { ensureSimulators, simulatorPorts } from '../../src/io/vendors/simulators.ts';
import {
  createTtlockAdapter,
  startTtlockSimulator,
  TTLOCK_SIM_DEFAULTS,
} from '../../src/io/vendors/ttlock/index.ts';
import {
  createVostioAdapter,
  startVostioSimulator,
  VOSTIO_SIM_DEFAULTS,
  type VostioClientTls,
} from '../../src/io/vendors/vostio/index.ts';
import type { KeyKind } from '../../src/machines/index.ts';
import { uniquePins } from './lockAdapterContract.ts';

/** Locks the suite asks each simulator for: more than any seeds. */
const LOCKS = 25;

interface Reply {
  status: number;
  body: unknown;
}

/** A POST of a raw body to a simulator; over mutual TLS with the client's material (Vostio). */
async function post(url: string, body: string, tls?: VostioClientTls): Promise<Reply> {
  const dispatcher = tls ? new Agent({ connect: { ca: tls.ca, cert: tls.cert, key: tls.key } }) : undefined;
  try {
    const r = await request(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      dispatcher,
    });
    return { status: r.statusCode, body: await r.body.json() };
  } finally {
    await dispatcher?.close();
  }
}

/** The locks a `/_sim/locks` answer lists. */
const listed = (r: Reply) => (r.body as { locks: string[] }).locks;

interface RunningSimulator {
  adapter: LockAdapter;
  /** POSTs a body to one of its control routes (`/_sim/...`). */
  control(path: string, body?: string): Promise<Reply>;
  /** The vendor's references of the credentials it holds on a lock (its own view, not the adapter's). */
  heldOn(lockRef: string): Promise<string[]>;
  close(): Promise<void>;
}

interface SimulatorCase {
  vendor: string;
  kind: KeyKind;
  /** The first `count` locks as the seed numbers them. */
  refs(count: number): string[];
  /** Whether it has `/_sim/reset` (Seam's fake has none). */
  resets: boolean;
  start(): Promise<RunningSimulator>;
}

const numbered = (count: number, ref: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => ref(i));

/** A simulator on the shared sim server (its state lists credentials by lock) with the adapter over it. */
function overSimServer(
  sim: {
    url: string;
    state(): { credentials: { lockRef: string; ref: string }[] };
    close(): Promise<void>;
  },
  adapter: LockAdapter,
  tls?: VostioClientTls,
): RunningSimulator {
  return {
    adapter,
    control: (path, body = '') => post(`${sim.url}${path}`, body, tls),
    heldOn: async (lockRef) =>
      sim
        .state()
        .credentials.filter((c) => c.lockRef === lockRef)
        .map((c) => c.ref),
    close: () => sim.close(),
  };
}

const simulators: SimulatorCase[] = [
  {
    vendor: 'ttlock',
    kind: 'pin',
    refs: (count) => numbered(count, (i) => String(7001 + i)),
    resets: true,
    async start() {
      const sim = await startTtlockSimulator();
      return overSimServer(
        sim,
        createTtlockAdapter({
          config: { baseUrl: sim.url, ...TTLOCK_SIM_DEFAULTS },
          clock: systemClock,
          timeoutMs: 2000,
        }),
      );
    },
  },
  {
    vendor: 'salto-ks',
    kind: 'pin',
    refs: (count) => numbered(count, (i) => `0e5a17a0-0000-4000-8000-${String(1001 + i).padStart(12, '0')}`),
    resets: true,
    async start() {
      const sim = await startSaltoKsSimulator();
      return overSimServer(
        sim,
        createSaltoKsAdapter({
          config: { baseUrl: sim.url, ...SALTO_KS_SIM_DEFAULTS },
          clock: systemClock,
          timeoutMs: 2000,
        }),
      );
    },
  },
  {
    vendor: 'salto-space',
    kind: 'card',
    refs: (count) => numbered(count, (i) => `R${401 + i}`),
    resets: true,
    async start() {
      const sim = await startSaltoSpaceSimulator();
      return overSimServer(
        sim,
        createSaltoSpaceAdapter({
          config: { baseUrl: sim.url, ...SALTO_SPACE_SIM_DEFAULTS },
          timeoutMs: 2000,
        }),
      );
    },
  },
  {
    vendor: 'vostio',
    kind: 'card',
    refs: (count) => numbered(count, (i) => `door-${501 + i}`),
    resets: true,
    async start() {
      const sim = await startVostioSimulator();
      // The control routes are behind the same mutual TLS as the API.
      return overSimServer(
        sim,
        createVostioAdapter({
          config: {
            baseUrl: sim.url,
            ...VOSTIO_SIM_DEFAULTS,
            ca: sim.clientTls.ca,
            clientCert: sim.clientTls.cert,
            clientKey: sim.clientTls.key,
          },
          clock: systemClock,
          timeoutMs: 2000,
        }),
        sim.clientTls,
      );
    },
  },
  {
    vendor: 'seam',
    kind: 'pin',
    // The fake's seed: two August locks and a Schlage; more August locks are numbered on from the seed's.
    refs: (count) =>
      [
        'august_device_1',
        'august_device_2',
        'schlage_device_id',
        ...numbered(count, (i) => `august_device_${i + 3}`),
      ].slice(0, count),
    resets: false,
    async start() {
      const fake = await startSeamFake();
      return {
        adapter: createSeamAdapter({ config: { endpoint: fake.url, apiKey: fake.apiKey }, timeoutMs: 4000 }),
        control: (path, body = '') => post(`${fake.url}${path}`, body),
        // The fake's list answers every device's codes whatever `device_id` says: the device is checked here.
        heldOn: async (lockRef) =>
          (await fake.accessCodes(lockRef))
            .filter((code) => 'device_id' in code && code.device_id === lockRef)
            .map((code) => code.access_code_id),
        close: () => fake.close(),
      };
    },
  },
];

describe.each(simulators)('simulator locks: $vendor', (c) => {
  let sim: RunningSimulator;
  const pins = uniquePins();
  beforeAll(async () => {
    sim = await c.start();
  });
  afterAll(() => sim?.close());

  const listLocks = async () => (await sim.adapter.listLocks()).map((l) => l.ref).sort();
  /** Issues a credential on the lock through the adapter, as the service would; answers its vendor reference. */
  const issueOn = async (lockRef: string) => {
    const from = Date.now() + 86_400_000;
    const { vendorRef } = await sim.adapter.issueCredential({
      operationId: randomUUID(),
      lockRef,
      kind: c.kind,
      validFrom: new Date(from),
      validUntil: new Date(from + 2 * 86_400_000),
      pin: c.kind === 'pin' ? pins() : null,
      lookupFirst: false,
    });
    return vendorRef;
  };
  const setLocks = (body: string) => sim.control('/_sim/locks', body);

  it(`${c.vendor}: POST /_sim/locks adds the missing locks as the seed numbers them; the last takes a credential; none is lost`, async () => {
    const seeded = await listLocks();
    expect(seeded.length).toBeLessThan(LOCKS);
    const first = c.refs(1)[0] ?? '';
    const before = await issueOn(first);

    const r = await setLocks(JSON.stringify({ count: LOCKS }));
    expect(r.status).toBe(200);
    expect(listed(r)).toEqual(c.refs(LOCKS));
    expect(await listLocks()).toEqual([...c.refs(LOCKS)].sort());

    const last = c.refs(LOCKS).at(-1) ?? '';
    const made = await issueOn(last);
    expect(await sim.heldOn(last)).toEqual([made]);
    // Growing never removes: the credential on a seeded lock is still held.
    expect(await sim.heldOn(first)).toContain(before);
  });

  it(`${c.vendor}: a count below the locks it has removes none`, async () => {
    const r = await setLocks(JSON.stringify({ count: 2 }));
    expect(r.status).toBe(200);
    expect(listed(r)).toEqual(c.refs(LOCKS));
    expect(await listLocks()).toHaveLength(LOCKS);
  });

  it.skipIf(!c.resets)(`${c.vendor}: /_sim/reset keeps the count (the credentials go)`, async () => {
    const last = c.refs(LOCKS).at(-1) ?? '';
    expect(await sim.heldOn(last)).not.toEqual([]);
    expect((await sim.control('/_sim/reset')).status).toBe(200);
    expect(await listLocks()).toEqual([...c.refs(LOCKS)].sort());
    expect(await sim.heldOn(last)).toEqual([]);
    await issueOn(last);
  });

  it(`${c.vendor}: a body that is not a count of 1..100000 is 400 and changes nothing`, async () => {
    const bad = [
      '{"count":0}',
      '{"count":"x"}',
      '{"count":"30"}',
      '{"count":2.5}',
      '{"count":-1}',
      '{"count":100001}',
      '{}',
      '',
      'x',
      'null',
    ];
    for (const body of bad) {
      const r = await setLocks(body);
      expect([body, r.status]).toEqual([body, 400]);
      expect((r.body as { error?: unknown }).error).toMatch(/count/);
    }
    expect(await listLocks()).toHaveLength(LOCKS);
  });
});

describe('simulator locks: the server and SIM_LOCKS', () => {
  it('simulator locks: a simulator without the hook answers /_sim/locks 404', async () => {
    const sim = await startSimServer({
      initialFaults: { latencyMs: 0, outage: false },
      reset: () => {},
      state: () => ({}),
      handle: () => ({ status: 200 }),
    });
    try {
      expect((await post(`${sim.url}/_sim/locks`, '{"count":5}')).status).toBe(404);
    } finally {
      await sim.close();
    }
  });

  it('simulator locks: SIM_LOCKS is a count of 1..100000 or unset', () => {
    expect(simulatorSettingsOf({ SIM_LOCKS: '40' }).simulatorLocks).toBe(40);
    expect(simulatorSettingsOf({}).simulatorLocks).toBeUndefined();
    expect(simulatorSettingsOf({ SIM_LOCKS: '' }).simulatorLocks).toBeUndefined();
    expect(simulatorSettingsOf({ SIM_LOCKS: ' 5 ' }).simulatorLocks).toBe(5);
    for (const v of ['0', 'x', '2.5', '100001', '1e3', '0x10', '+7', '-3'])
      expect(() => simulatorSettingsOf({ SIM_LOCKS: v }), v).toThrow(/SIM_LOCKS/);
  });

  it('simulator locks: ensureSimulators starts every simulator with SIM_LOCKS locks', async () => {
    // Below the kernel's ephemeral range (32768 up): no outgoing socket or port-0 listener of a test running
    // beside this one can hold these ports (one did, once, at 36042).
    const base = randomInt(20_000, 32_000);
    const sims = await ensureSimulators(base, { startMissing: true, locks: 12 });
    try {
      expect(sims.started.sort()).toEqual(Object.keys(simulatorPorts(base)).sort());
      const vostio = sims.defaults.vostio as { ca: string; clientCert: string; clientKey: string };
      const tls = { ca: vostio.ca, cert: vostio.clientCert, key: vostio.clientKey };
      // A count of 1 adds nothing: the answer is the locks each simulator has.
      const locksOfEach = async () => {
        const counts: Record<string, number> = {};
        for (const [vendor, port] of Object.entries(simulatorPorts(base))) {
          const url = `${vendor === 'vostio' ? 'https' : 'http'}://127.0.0.1:${port}/_sim/locks`;
          counts[vendor] = listed(
            await post(url, '{"count":1}', vendor === 'vostio' ? tls : undefined),
          ).length;
        }
        return counts;
      };
      const each = (n: number) => Object.fromEntries(Object.keys(simulatorPorts(base)).map((v) => [v, n]));
      expect(await locksOfEach()).toEqual(each(12));
      // Started again with a larger SIM_LOCKS while these run: each running simulator is grown to it.
      const again = await ensureSimulators(base, { startMissing: true, locks: 20 });
      expect(again.started).toEqual([]);
      expect(await locksOfEach()).toEqual(each(20));
    } finally {
      await sims.close();
      rmSync(join(tmpdir(), 'lock-integration-simulators', `vostio-${simulatorPorts(base).vostio}`), {
        recursive: true,
        force: true,
      });
    }
  });
});
