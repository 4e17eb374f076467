/**
 * TTLock locks as they are (sources in docs/vendors/ttlock.md):
 * - a WiFi lock (feature 56 of `featureValue`) reaches the cloud without a gateway: it is online, its own
 *   `wifiLock/detail` says whether it is on its network now, and it takes passcodes directly;
 * - asleep (power-saving mode) it refuses direct writes (-3035) and takes passcodes asynchronously
 *   (`addType=4`): the adapter retried -3035 for ever before;
 * - a lock checks a passcode against its own clock: a drifted clock refuses a valid PIN, so the adapter
 *   sets it right before writing (`lock/queryDate`, `lock/updateDate`);
 * - the monthly call quota (30007) is waited out until it resets, not retried within the second;
 * - the simulator refuses a write without the parameters the Open Platform's pages require.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/ids.ts';
import type { IssueRequest } from '../../src/io/vendors/port.ts';
import {
  createTtlockAdapter,
  startTtlockSimulator,
  TTLOCK_SIM_DEFAULTS,
  type TtlockSimulator,
} from '../../src/io/vendors/ttlock/index.ts';
import { fromTtlock, isWifiLock } from '../../src/io/vendors/ttlock/wire.ts';

const HOUR = 3_600_000;

describe('ttlock locks', () => {
  let sim: TtlockSimulator;
  beforeAll(async () => {
    sim = await startTtlockSimulator({ lockCount: 6 });
  });
  afterAll(() => sim?.close());

  const adapter = () =>
    createTtlockAdapter({
      config: { baseUrl: sim.url, ...TTLOCK_SIM_DEFAULTS },
      clock: systemClock,
      timeoutMs: 2000,
    });
  const pins = ['381947', '592816', '704351', '826093', '915372'];
  const stay = (lockRef: string, pin: string): IssueRequest => ({
    operationId: randomUUID(),
    lockRef,
    kind: 'pin',
    pin,
    lookupFirst: false,
    validFrom: new Date(Date.now() - HOUR),
    validUntil: new Date(Date.now() + 24 * HOUR),
  });

  it('ttlock: a WiFi lock without a gateway is online, says when it is not, and takes a passcode directly', async () => {
    sim.configureWifi('7002', { online: true, powerSaving: false });
    const a = adapter();
    const listed = (await a.listLocks()).find((l) => l.ref === '7002');
    expect(listed?.online).toBe(true);
    expect((await a.getLock('7002')).online).toBe(true);
    sim.configureWifi('7002', { online: false, powerSaving: false });
    expect((await a.getLock('7002')).online).toBe(false);
    sim.configureWifi('7002', { online: true, powerSaving: false });
    const pin = pins[0] ?? '';
    await a.issueCredential(stay('7002', pin));
    expect((await sim.enterPasscode('7002', pin)).success).toBe(1);
  });

  it('ttlock: a sleeping WiFi lock takes the passcode asynchronously, and it opens once the lock wakes', async () => {
    sim.configureWifi('7003', { online: true, powerSaving: true });
    const pin = pins[1] ?? '';
    const r = await adapter().issueCredential(stay('7003', pin));
    // Not on the lock yet: the cloud lists it as being added.
    expect((await sim.enterPasscode('7003', pin)).success).toBe(0);
    sim.wakeLock('7003');
    expect((await sim.enterPasscode('7003', pin)).success).toBe(1);
    expect(sim.state().credentials.find((c) => c.ref === r.vendorRef)?.pin).toBe(pin);
  });

  it('ttlock: a lock whose clock is two hours slow gets its clock set, so a PIN valid now opens it', async () => {
    sim.setLockClockDrift('7004', -2 * HOUR);
    const pin = pins[2] ?? '';
    await adapter().issueCredential(stay('7004', pin));
    expect(Math.abs(sim.lockClockDrift('7004'))).toBeLessThan(60_000);
    expect((await sim.enterPasscode('7004', pin)).success).toBe(1);
  });

  it('ttlock: a lock within a minute of the time is left alone', async () => {
    sim.setLockClockDrift('7005', 20_000);
    await adapter().issueCredential(stay('7005', pins[3] ?? ''));
    expect(sim.lockClockDrift('7005')).toBe(20_000);
  });

  it('ttlock: the monthly quota (30007) is waited out until the first of the month, Beijing time', () => {
    // 2026-11-30 17:00 UTC is 2026-12-01 01:00 in Beijing: the quota reset an hour ago, next on 2027-01-01.
    const now = Date.parse('2026-11-30T17:00:00Z');
    const e = fromTtlock({ errcode: 30007, errmsg: 'exceeded the monthty limit' }, now);
    expect(e.failure).toBe('RATE_LIMITED');
    expect(now + (e.retryAfterMs ?? 0)).toBe(Date.parse('2026-12-31T16:00:00Z'));
  });

  it('ttlock: remote unlock switched off in the app (-4043) is not supported, not retried', async () => {
    sim.setRemoteUnlock('7006', false);
    await expect(adapter().remoteUnlock('7006')).rejects.toMatchObject({
      failure: 'NOT_SUPPORTED',
      retryable: false,
    });
    sim.setRemoteUnlock('7006', true);
    await expect(adapter().remoteUnlock('7006')).resolves.toBeUndefined();
  });

  it('ttlock: a spent monthly quota (30007) waits for its reset; a bare failure (errcode 1) is retried', async () => {
    const a = adapter();
    await a.listLocks();
    sim.setFaults({ monthlyQuota: true });
    const quota = await a.listLocks().catch((e: unknown) => e as { failure: string; retryAfterMs?: number });
    sim.setFaults({ monthlyQuota: false });
    expect(quota).toMatchObject({ failure: 'RATE_LIMITED' });
    expect((quota as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThan(0);
    sim.setFaults({ genericFailures: 1 });
    await expect(a.listLocks()).rejects.toMatchObject({ failure: 'OFFLINE', retryable: true });
    await expect(a.listLocks()).resolves.toHaveLength(6);
  });

  it("ttlock: feature 56 of featureValue is WiFi, read as one number's bit", () => {
    expect(isWifiLock('F44354CD5F3')).toBe(false);
    expect(isWifiLock((0xf44354cd5f3n | (1n << 56n)).toString(16))).toBe(true);
    expect(isWifiLock('not hex')).toBe(false);
  });

  it('ttlock: the simulator refuses a passcode add without addType, as the Open Platform requires it', async () => {
    const token = await fetch(`${sim.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        clientId: TTLOCK_SIM_DEFAULTS.clientId,
        clientSecret: TTLOCK_SIM_DEFAULTS.clientSecret,
        username: TTLOCK_SIM_DEFAULTS.username,
        password: createHash('md5').update(TTLOCK_SIM_DEFAULTS.password).digest('hex'),
      }),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const res = await fetch(`${sim.url}/v3/keyboardPwd/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        clientId: TTLOCK_SIM_DEFAULTS.clientId,
        accessToken: token.access_token,
        date: String(Date.now()),
        lockId: '7006',
        keyboardPwd: pins[4] ?? '',
        keyboardPwdType: '3',
        startDate: String(Date.now()),
        endDate: String(Date.now() + HOUR),
      }),
    }).then((r) => r.json() as Promise<{ errcode: number; errmsg: string }>);
    expect(res).toMatchObject({ errcode: -3, errmsg: 'Invalid Parameter: addType' });
  });
});
