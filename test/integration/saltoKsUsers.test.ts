/**
 * What a Salto KS PIN user needs, and what its PIN can cover:
 * - every user has a role (public PMS clients send one; the adapter sent none), the site's "Site User"
 *   unless configured; a tenant that requires e-mails gets an address the hotel controls, never the guest's;
 * - a user just made may not take a PIN request at once (a public client waits 2 s): the adapter asks
 *   again instead of calling it a PIN clash (409 was DUPLICATE: the credential moved to its next PIN);
 * - the PIN has its own expiry: a stay extended past it needs a new PIN (reissue), not a schedule that
 *   outlives the PIN.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/ids.ts';
import type { LockAdapter } from '../../src/io/vendors/port.ts';
import {
  createSaltoKsAdapter,
  SALTO_KS_SIM_DEFAULTS,
  type SaltoKsSimulator,
  startSaltoKsSimulator,
} from '../../src/io/vendors/saltoKs/index.ts';

const DAY = 86_400_000;

describe('salto-ks users and PINs', () => {
  let sim: SaltoKsSimulator;
  let adapter: LockAdapter;

  beforeAll(async () => {
    sim = await startSaltoKsSimulator({
      lockCount: 1,
      staffUsers: 0,
      requireEmail: true,
      pinReadyAfterMs: 1000,
    });
    adapter = createSaltoKsAdapter({
      config: { baseUrl: sim.url, ...SALTO_KS_SIM_DEFAULTS, guestEmailDomain: 'guests.hotel.example' },
      clock: systemClock,
      timeoutMs: 2000,
    });
  });
  afterAll(() => sim?.close());

  const lockRef = () => sim.state().locks[0]?.ref ?? '';
  const issue = (validFrom: Date, validUntil: Date, operationId = randomUUID()) =>
    adapter.issueCredential({
      operationId,
      lockRef: lockRef(),
      kind: 'pin',
      pin: null,
      lookupFirst: false,
      validFrom,
      validUntil,
    });

  it('salto-ks: a guest user gets the Site User role and a made-up e-mail, and its PIN once KS is ready for it', async () => {
    const now = Date.now();
    const r = await issue(new Date(now), new Date(now + 2 * DAY));
    expect(r.pin).toMatch(/^\d{6,7}$/);
    const held = sim.state().credentials.find((c) => c.ref === r.vendorRef);
    expect(held?.pin).toBe(r.pin);
  });

  it('salto-ks: without a domain for e-mails, a tenant that requires them refuses the issue plainly (INVALID)', async () => {
    const noEmail = createSaltoKsAdapter({
      config: { baseUrl: sim.url, ...SALTO_KS_SIM_DEFAULTS },
      clock: systemClock,
      timeoutMs: 2000,
    });
    const now = Date.now();
    await expect(
      noEmail.issueCredential({
        operationId: randomUUID(),
        lockRef: lockRef(),
        kind: 'pin',
        pin: null,
        lookupFirst: false,
        validFrom: new Date(now),
        validUntil: new Date(now + DAY),
      }),
    ).rejects.toMatchObject({ failure: 'INVALID' });
  });

  it("salto-ks: a stay extended past its PIN's expiry asks for a reissue; within it, the schedule moves", async () => {
    const now = Date.now();
    // A long stay: the PIN's expiry is capped about 349 days from now.
    const r = await issue(new Date(now), new Date(now + 300 * DAY));
    const held = () => sim.state().credentials.find((c) => c.ref === r.vendorRef);
    const pinExpiry = Date.parse(held()?.pinExpiry ?? '');
    expect(pinExpiry).toBeGreaterThan(now + 300 * DAY);
    const change = (until: number) =>
      adapter.modifyValidity({
        issueOperationId: randomUUID(),
        lockRef: lockRef(),
        kind: 'pin',
        vendorRef: r.vendorRef,
        validFrom: new Date(now),
        validUntil: new Date(until),
      });
    await expect(change(pinExpiry - DAY)).resolves.toEqual({ outcome: 'modified', vendorRef: r.vendorRef });
    expect(Date.parse(held()?.validUntil ?? '')).toBe(pinExpiry - DAY);
    await expect(change(pinExpiry + DAY)).resolves.toEqual({ outcome: 'reissue_required' });
    // Nothing at KS says the PIN opens past its expiry.
    expect(Date.parse(held()?.validUntil ?? '')).toBeLessThanOrEqual(pinExpiry);
  });
});
