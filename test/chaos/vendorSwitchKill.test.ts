/**
 * The switch a hotel lives through, on real processes: a property with 10 TTLock rooms, 20 live reservations
 * and a staff shift on a floor switches to Salto KS through `lock:cli vendor-switch plan` and `apply`
 * (children of this test, as an operator runs them), with the service `kill -9`ed while `apply` is cutting
 * rooms over, reservations confirmed while it is down, and `apply` run again. Once the restarted service has
 * settled, every live credential is active on the lock physically in its room — checked against both
 * simulators — and at the end nothing of the property is left on TTLock, TTLock is disabled and the switch is
 * completed.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDevToken } from '../../src/gateway/auth.ts';
import { reservationCredentialId, shiftCredentialId } from '../../src/ids.ts';
import {
  SALTO_KS_SIM_DEFAULTS,
  type SaltoKsSimulator,
  startSaltoKsSimulator,
} from '../../src/io/vendors/saltoKs/index.ts';
import { startTtlockSimulator, type TtlockSimulator } from '../../src/io/vendors/ttlock/index.ts';
import type { ServiceSettings } from '../../src/service.ts';
import { type Client, connectClient } from '../support/client.ts';
import { seedProperty } from '../support/fixtures.ts';
import { dropDatabase, dropNats, eventually, freePort, uniqueId } from '../support/harness.ts';
import { type RuntimeProcess, spawnRuntime } from '../support/processes.ts';
import { takeoverSettings } from '../support/reservations.ts';

const ROOMS = Array.from({ length: 10 }, (_, i) => String(101 + i));
const HOUR = 3_600_000;

/** Runs `lock:cli vendor-switch …` as a process of its own; resolves with its exit code and output. */
function cli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'vendor-switch', ...args],
      { env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

describe('vendor switch on real processes, through lock:cli, with kill -9', () => {
  const tenantId = `tenant-${uniqueId()}`;
  const authSecret = randomBytes(32);
  const dir = mkdtempSync(join(tmpdir(), 'switch-'));
  const planFile = join(dir, 'switch-plan.json');
  let ttlock: TtlockSimulator;
  let ks: SaltoKsSimulator;
  let settings: ServiceSettings;
  let client: Client;
  let runtime: RuntimeProcess | undefined;
  let port = 0;
  let env: Record<string, string> = {};

  beforeAll(async () => {
    ttlock = await startTtlockSimulator({ lockCount: ROOMS.length });
    ks = await startSaltoKsSimulator({ lockCount: ROOMS.length, staffUsers: 0 });
    const base = takeoverSettings(uniqueId(), ttlock.url);
    settings = {
      ...base,
      vendorDefaults: { ...base.vendorDefaults, 'salto-ks': { baseUrl: ks.url, ...SALTO_KS_SIM_DEFAULTS } },
    };
    port = await freePort();
    runtime = await spawnRuntime(settings, 'switch-0', { port, authSecret });
    client = await connectClient(settings);
    env = { LOCK_TOKEN: await signDevToken(authSecret, tenantId), LOCK_URL: `http://127.0.0.1:${port}` };
  });
  afterAll(async () => {
    await runtime?.stop();
    await client?.close();
    await ttlock?.close();
    await ks?.close();
    await dropNats(settings.prefix);
    await dropDatabase(settings.databaseUrl);
  });

  const api = async (method: 'GET' | 'PUT', path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${env.LOCK_TOKEN}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Record<string, never> };
  };
  const publish = (name: string, body: Record<string, unknown>) =>
    client.js.publish(`${client.topology.platformRoot}.${name}`, JSON.stringify(body), {
      msgID: String(body.eventId),
    });
  const confirm = async (propertyId: string, room: string) => {
    const reservationId = `res-${randomUUID().slice(0, 8)}`;
    await publish('reservation.confirmed.v1', {
      eventId: randomUUID(),
      tenantId,
      propertyId,
      reservationId,
      guestRef: `guest-${reservationId}`,
      rooms: [room],
      checkIn: new Date(Date.now() - HOUR).toISOString(),
      checkOut: new Date(Date.now() + 48 * HOUR).toISOString(),
    });
    return { id: reservationCredentialId(tenantId, reservationId, 'pin'), room };
  };

  /**
   * Problems with where the credentials are: each must be active with a grant on the room's current lock —
   * its Salto KS lock once cut over, its TTLock lock before — which that lock's simulator holds.
   */
  async function placement(credentials: { id: string; rooms: string[] }[], ksLockOf: Map<string, string>) {
    const problems: string[] = [];
    for (const c of credentials) {
      const v = (await api('GET', `/key-credentials/${c.id}`)).json as unknown as {
        status: string;
        grants: { roomId: string; vendor: string; vendorRef: string | null; status: string }[];
      };
      if (v.status !== 'active') problems.push(`${c.id}: ${v.status}`);
      for (const room of c.rooms) {
        const ksLock = ksLockOf.get(room);
        const g = v.grants.find((x) => x.roomId === room && x.vendor === (ksLock ? 'salto-ks' : 'ttlock'));
        const held =
          g?.status === 'active' &&
          (ksLock
            ? ks.state().credentials.some((x) => x.lockRef === ksLock && x.ref === g.vendorRef)
            : ttlock.state().credentials.some((x) => x.ref === g.vendorRef));
        if (!held)
          problems.push(`${c.id} room ${room}: not held by its ${ksLock ? 'Salto KS' : 'TTLock'} lock`);
      }
    }
    return problems;
  }

  it('switch: plan, apply, kill -9 mid-apply, apply again: every credential on the lock in its room, TTLock empty at the end', async () => {
    const { propertyId } = await seedProperty(
      client,
      tenantId,
      Object.fromEntries(ROOMS.map((r, i) => [r, String(7001 + i)])),
      (room) => [Number(room) <= 105 ? 'floor-1' : 'floor-2'],
    );
    expect(
      (
        await api('PUT', `/properties/${propertyId}/vendor-adapters/salto-ks`, {
          status: 'disabled',
          config: {},
        })
      ).status,
    ).toBe(200);
    const credentials: { id: string; rooms: string[] }[] = [];
    for (const room of [...ROOMS, ...ROOMS]) {
      const c = await confirm(propertyId, room);
      credentials.push({ id: c.id, rooms: [room] });
    }
    const shiftId = `shift-${uniqueId()}`;
    await publish('staff.shift.started.v1', {
      eventId: randomUUID(),
      tenantId,
      propertyId,
      staffId: 'housekeeper-1',
      shiftId,
      areas: ['floor-1'],
      startsAt: new Date(Date.now() - HOUR).toISOString(),
      endsAt: new Date(Date.now() + 8 * HOUR).toISOString(),
    });
    credentials.push({ id: shiftCredentialId(tenantId, shiftId, 'pin'), rooms: ROOMS.slice(0, 5) });
    await eventually(
      async () => ((await placement(credentials, new Map())).length === 0 ? true : undefined),
      60_000,
    );

    // The plan: Salto's lock names do not carry the room numbers here, so the operator maps them in the file.
    const planned = await cli(
      ['plan', '--property', propertyId, '--from', 'ttlock', '--to', 'salto-ks', '--out', planFile],
      env,
    );
    expect(planned.code, planned.out).toBe(0);
    expect(planned.out).toContain('no salto-ks lock proposed');
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as {
      rooms: { roomId: string; vendorDeviceRef: string | null; liveCredentials: number }[];
    };
    expect(plan.rooms.map((r) => r.liveCredentials)).toEqual(ROOMS.map((r) => (Number(r) <= 105 ? 3 : 2)));
    const ksLocks = ks.state().locks.map((l) => l.ref);
    const ksLockOf = new Map(ROOMS.map((r, i) => [r, ksLocks[i] ?? '']));
    for (const r of plan.rooms) r.vendorDeviceRef = ksLockOf.get(r.roomId) ?? null;
    writeFileSync(planFile, JSON.stringify(plan, null, 2));
    // A plan edited into nonsense is refused, naming why, and changes nothing.
    const nonsense = join(dir, 'nonsense.json');
    writeFileSync(nonsense, JSON.stringify({ ...plan, rooms: [{ roomId: '101' }] }));
    const refused = await cli(['apply', '--plan', nonsense], env);
    expect([refused.code, refused.out]).toEqual([2, expect.stringContaining('not a plan')]);

    // apply, and kill -9 the service once three rooms are cut over.
    const applying = cli(['apply', '--plan', planFile], env);
    const switchId = await eventually(async () => {
      const f = JSON.parse(readFileSync(planFile, 'utf8')) as { switchId?: string };
      return f.switchId;
    });
    await eventually(async () => {
      const s = await api('GET', `/vendor-switches/${switchId}`).catch(() => undefined);
      return ((s?.json as { rooms?: { cutover: number } } | undefined)?.rooms?.cutover ?? 0) >= 3
        ? true
        : undefined;
    }, 60_000);
    await runtime?.kill9();
    const interrupted = await applying;
    expect(interrupted.code).not.toBe(0);
    // Guests keep arriving while the service is down.
    for (const room of ['101', '110']) {
      const c = await confirm(propertyId, room);
      credentials.push({ id: c.id, rooms: [room] });
    }
    runtime = await spawnRuntime(settings, 'switch-1', { port, authSecret });

    // Settled after the restart: rooms cut over so far hold their credentials on Salto, the others on TTLock.
    const cutNow = async () => {
      const s = (await api('GET', `/vendor-switches/${switchId}`)).json as unknown as {
        roomList: { roomId: string; newDeviceId: string | null }[];
      };
      return new Map(
        s.roomList.filter((r) => r.newDeviceId).map((r) => [r.roomId, ksLockOf.get(r.roomId) ?? '']),
      );
    };
    await eventually(
      async () => ((await placement(credentials, await cutNow())).length === 0 ? true : undefined),
      60_000,
    );

    const resumed = await cli(['apply', '--plan', planFile], env);
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toContain('carrying on');
    expect(resumed.out).toContain('completed');

    await eventually(
      async () => ((await placement(credentials, ksLockOf)).length === 0 ? true : undefined),
      60_000,
    );
    expect(ttlock.state().credentials).toEqual([]);
    const status = await cli(['status', '--switch', switchId], env);
    expect(status.out).toContain('completed');
    const property = (await api('GET', `/properties/${propertyId}`)).json as unknown as {
      vendorAdapters: Record<string, { status: string }>;
    };
    expect(property.vendorAdapters.ttlock?.status).toBe('disabled');
  });
});
