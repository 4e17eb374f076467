/**
 * Salto KS look-ups never trust `$filter`: there is no public evidence that KS honours it, and the site's
 * first user is its administrator. The simulator, as a defensive model, ignores `$filter` and pages its lists
 * (`$top` at most 100, `$skip`); the adapter lists page by page and matches the exact reference. Before, a
 * revoke of a credential the adapter had to look up deleted the site's first user, and a re-run of an issue
 * re-PINned someone else.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/ids.ts';
import {
  createSaltoKsAdapter,
  SALTO_KS_SIM_DEFAULTS,
  type SaltoKsSimulator,
  startSaltoKsSimulator,
} from '../../src/io/vendors/saltoKs/index.ts';
import type { LockAdapter } from '../../src/io/vendors/port.ts';

describe('salto-ks look-ups', () => {
  let sim: SaltoKsSimulator;
  let adapter: LockAdapter;
  const window = {
    validFrom: new Date('2026-12-01T14:00:00Z'),
    validUntil: new Date('2026-12-03T11:00:00Z'),
  };

  beforeAll(async () => {
    sim = await startSaltoKsSimulator({ lockCount: 2, staffUsers: 130 });
    adapter = createSaltoKsAdapter({
      config: { baseUrl: sim.url, ...SALTO_KS_SIM_DEFAULTS },
      clock: systemClock,
      timeoutMs: 2000,
    });
  });
  afterAll(() => sim?.close());

  const lockRef = () => sim.state().locks[0]?.ref ?? '';
  const siteUsers = () => sim.state().siteUsers;

  it('salto-ks: revoking a credential found by look-up deletes it and no one else (not the site administrator)', async () => {
    const before = siteUsers();
    expect(before[0]?.alias).toBe('site-admin');
    // Nothing of this operation exists at Salto: the look-up must find nothing, and delete nothing.
    await adapter.revokeCredential({
      issueOperationId: randomUUID(),
      lockRef: lockRef(),
      kind: 'pin',
      vendorRef: null,
    });
    expect(siteUsers()).toEqual(before);
  });

  it("salto-ks: a re-run of an issue that made nothing yet creates its own user, and re-PINs no one else's", async () => {
    const before = siteUsers();
    const r = await adapter.issueCredential({
      operationId: randomUUID(),
      lockRef: lockRef(),
      kind: 'pin',
      pin: null,
      lookupFirst: true,
      ...window,
    });
    const after = siteUsers();
    for (const u of before) expect(after.find((x) => x.id === u.id)?.pin, u.alias).toBe(u.pin);
    expect(after).toHaveLength(before.length + 1);
    expect(sim.state().credentials.find((c) => c.ref === r.vendorRef)?.pin).toBe(r.pin);
  });

  it('salto-ks: a re-run finds its own user and group past the first page, and makes no second one', async () => {
    const operationId = randomUUID();
    const issue = (lookupFirst: boolean) =>
      adapter.issueCredential({
        operationId,
        lockRef: lockRef(),
        kind: 'pin',
        pin: null,
        lookupFirst,
        ...window,
      });
    const first = await issue(false);
    const users = siteUsers().length;
    const again = await issue(true);
    expect(again.vendorRef).toBe(first.vendorRef);
    expect(siteUsers()).toHaveLength(users);
    // And the revoke finds them by listing too.
    await adapter.revokeCredential({
      issueOperationId: operationId,
      lockRef: lockRef(),
      kind: 'pin',
      vendorRef: null,
    });
    expect(siteUsers()).toHaveLength(users - 1);
    expect(sim.state().credentials.find((c) => c.ref === first.vendorRef)).toBeUndefined();
  });

  it('salto-ks: a PIN expiry stays within what KS accepts (about 350 days); a stay ending past it is refused, not given a PIN that lapses', async () => {
    // The simulator refuses an expiry more than 350 days ahead, as KS does: this issue must get its PIN.
    const soon = await adapter.issueCredential({
      operationId: randomUUID(),
      lockRef: lockRef(),
      kind: 'pin',
      pin: null,
      lookupFirst: false,
      ...window,
    });
    expect(soon.pin).toMatch(/^\d{6,7}$/);
    await expect(
      adapter.issueCredential({
        operationId: randomUUID(),
        lockRef: lockRef(),
        kind: 'pin',
        pin: null,
        lookupFirst: false,
        validFrom: new Date(),
        validUntil: new Date(Date.now() + 400 * 86_400_000),
      }),
    ).rejects.toMatchObject({ failure: 'INVALID' });
  });
});
