/**
 * TTLock rules the simulator now holds the adapter to (sources in docs/vendors/ttlock.md): a "too simple"
 * passcode (-2032) is about the PIN, so the credential moves to its next PIN (the adapter reports it as a PIN
 * taken); the service's PINs avoid what TTLock calls too simple; record type 37 is a remote control (a fob),
 * not the API's gateway unlock (12); `listKey` needs `orderBy`.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/ids.ts';
import { isSimplePin, generatePin } from '../../src/issuance/credentialRequests.ts';
import {
  createTtlockAdapter,
  startTtlockSimulator,
  TTLOCK_SIM_DEFAULTS,
  type TtlockSimulator,
} from '../../src/io/vendors/ttlock/index.ts';
import { recordMethod } from '../../src/io/vendors/ttlock/wire.ts';

describe('ttlock rules', () => {
  let sim: TtlockSimulator;
  const window = {
    validFrom: new Date(Date.now() - 3_600_000),
    validUntil: new Date(Date.now() + 86_400_000),
  };

  beforeAll(async () => {
    sim = await startTtlockSimulator();
  });
  afterAll(() => sim?.close());

  const adapter = () =>
    createTtlockAdapter({
      config: { baseUrl: sim.url, ...TTLOCK_SIM_DEFAULTS },
      clock: systemClock,
      timeoutMs: 2000,
    });

  it('ttlock: a passcode TTLock calls too simple is reported as a PIN taken, so the credential moves to its next PIN', async () => {
    const lockRef = sim.state().locks[0]?.ref ?? '';
    for (const pin of ['123456', '654321', '777777', '890123'])
      await expect(
        adapter().issueCredential({
          operationId: randomUUID(),
          lockRef,
          kind: 'pin',
          pin,
          lookupFirst: false,
          ...window,
        }),
      ).rejects.toMatchObject({ failure: 'DUPLICATE' });
  });

  it('ttlock: the service never generates a PIN of that kind', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 9 }), (digits) => {
        const pin = generatePin(digits);
        expect(pin).toHaveLength(digits);
        expect(isSimplePin(pin)).toBe(false);
      }),
      { numRuns: 2000 },
    );
    for (const simple of ['123456', '987654', '000000', '901234', '125556'])
      expect(isSimplePin(simple), simple).toBe(true);
  });

  it('ttlock: record 37 is a remote control, 12 the gateway (API) unlock', () => {
    expect(recordMethod(37)).toBe('other');
    expect(recordMethod(55)).toBe('other');
    expect(recordMethod(12)).toBe('remote');
  });

  it('ttlock: an eKey is found again through listKey (orderBy sent), so a re-run sends no second eKey', async () => {
    const lockRef = sim.state().locks[0]?.ref ?? '';
    const operationId = randomUUID();
    const issue = (lookupFirst: boolean) =>
      adapter().issueCredential({
        operationId,
        lockRef,
        kind: 'mobile_key',
        pin: null,
        recipient: 'guest.one@example.com',
        lookupFirst,
        ...window,
      });
    const first = await issue(false);
    const again = await issue(true);
    expect(again.vendorRef).toBe(first.vendorRef);
    expect(
      sim.state().credentials.filter((c) => c.kind === 'mobile_key' && c.lockRef === lockRef),
    ).toHaveLength(1);
  });

  it('ttlock: a token is issued for the documented camelCase request and the snake_case one working clients send', async () => {
    const md5 = (await import('node:crypto'))
      .createHash('md5')
      .update(TTLOCK_SIM_DEFAULTS.password)
      .digest('hex');
    const forms: Record<string, string>[] = [
      { clientId: TTLOCK_SIM_DEFAULTS.clientId, clientSecret: TTLOCK_SIM_DEFAULTS.clientSecret },
      { client_id: TTLOCK_SIM_DEFAULTS.clientId, client_secret: TTLOCK_SIM_DEFAULTS.clientSecret },
    ];
    for (const form of forms) {
      const r = await fetch(`${sim.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form, username: TTLOCK_SIM_DEFAULTS.username, password: md5 }),
      });
      expect(((await r.json()) as { access_token?: string }).access_token, JSON.stringify(form)).toMatch(
        /\w+/,
      );
    }
  });
});
