/**
 * Seam as its API reference describes it, modelled by the simulator's layer over the official fake: lists are
 * paged (`page_cursor`), an access code is `setting` before it is `set`, and a PIN another code on the device
 * holds is accepted and then reported on the code (`duplicate_code_on_device`), not as an HTTP 409. The
 * adapter lists every page, and an issue succeeds only once its code is `set`; a duplicate is a PIN taken
 * (DUPLICATE: the credential moves to its next PIN), and the clashing code is not left behind. Remote
 * unlocking is an action attempt: a failed one is over, one that does not end is an unknown outcome (a door
 * must not open twice), and a device that forbids it (`can_remotely_unlock`) is not tried.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LockAdapter } from '../../src/io/vendors/port.ts';
import { createSeamAdapter, type SeamFake, startSeamFake } from '../../src/io/vendors/seam/index.ts';

describe('seam lifecycle', () => {
  let fake: SeamFake;
  let paged: SeamFake;
  let adapter: LockAdapter;
  const window = {
    validFrom: new Date('2026-12-01T14:00:00Z'),
    validUntil: new Date('2026-12-03T11:00:00Z'),
  };

  beforeAll(async () => {
    // The same workspace twice: paged by one item, and with a page larger than the workspace.
    paged = await startSeamFake({ pageSize: 1 });
    fake = await startSeamFake({ pageSize: 1000 });
    adapter = createSeamAdapter({ config: { endpoint: paged.url, apiKey: paged.apiKey }, timeoutMs: 3000 });
  });
  afterAll(async () => {
    await paged?.close();
    await fake?.close();
  });

  it('seam: every device is listed, across pages', async () => {
    const all = await createSeamAdapter({
      config: { endpoint: fake.url, apiKey: fake.apiKey },
      timeoutMs: 3000,
    }).listLocks();
    expect(all.length).toBeGreaterThan(1);
    expect((await adapter.listLocks()).map((l) => l.ref).sort()).toEqual(all.map((l) => l.ref).sort());
  });

  it('seam: an issue answers once its code is set, and a PIN the device already holds is a PIN taken', async () => {
    const [lock] = await adapter.listLocks();
    const lockRef = lock?.ref ?? '';
    const pin = String(4_000_000 + Math.floor(Math.random() * 999_999));
    const first = await adapter.issueCredential({
      operationId: randomUUID(),
      lockRef,
      kind: 'pin',
      pin,
      lookupFirst: false,
      ...window,
    });
    expect(first.vendorRef).toMatch(/\w/);
    const before = (await paged.accessCodes(lockRef)).length;
    await expect(
      adapter.issueCredential({
        operationId: randomUUID(),
        lockRef,
        kind: 'pin',
        pin,
        lookupFirst: false,
        ...window,
      }),
    ).rejects.toMatchObject({ failure: 'DUPLICATE' });
    // The clashing code was removed again: nothing of the failed issue stays on the lock.
    expect((await paged.accessCodes(lockRef)).length).toBe(before);
  });

  it('seam: a jammed unlock is over (not retried), an unanswered one is an unknown outcome (not retried), a device that forbids it is not tried', async () => {
    const quick = createSeamAdapter({
      config: { endpoint: paged.url, apiKey: paged.apiKey },
      timeoutMs: 800,
    });
    const [a, b, c] = (await quick.listLocks()).map((l) => l.ref);
    if (!a || !b || !c) throw new Error('the workspace has three devices');
    paged.unlocks(a, 'jammed');
    await expect(quick.remoteUnlock(a)).rejects.toMatchObject({ failure: 'ACTION_FAILED', retryable: false });
    paged.unlocks(b, 'silent');
    await expect(quick.remoteUnlock(b)).rejects.toMatchObject({
      failure: 'OUTCOME_UNKNOWN',
      retryable: false,
    });
    paged.remoteUnlockable(c, false);
    await expect(quick.remoteUnlock(c)).rejects.toMatchObject({ failure: 'NOT_SUPPORTED' });
    expect([paged.unlockAttempts(a), paged.unlockAttempts(b), paged.unlockAttempts(c)]).toEqual([1, 1, 0]);
    paged.remoteUnlockable(c, true);
    await expect(quick.remoteUnlock(c)).resolves.toBeUndefined();
  });

  it("seam: a PIN is checked against the device's code rules before anything is created", async () => {
    const [a, b, c] = (await adapter.listLocks()).map((l) => l.ref);
    if (!a || !b || !c) throw new Error('the workspace has three devices');
    paged.codeRules(a, { lengths: [4, 6] });
    paged.codeRules(b, { constraints: ['no_zeros', 'no_ascending_or_descending_sequence'] });
    paged.codeRules(c, { constraints: ['cannot_specify_pin_code'] });
    const issue = (lockRef: string, pin: string) =>
      adapter.issueCredential({
        operationId: randomUUID(),
        lockRef,
        kind: 'pin',
        pin,
        lookupFirst: false,
        ...window,
      });
    const codes = async () =>
      (await Promise.all([a, b, c].map((d) => paged.accessCodes(d)))).map((x) => x.length);
    const before = await codes();
    // A length the device does not take fails every PIN of that length: a permanent refusal.
    await expect(issue(a, '4839172')).rejects.toMatchObject({ failure: 'INVALID' });
    // A digit rule is about this PIN: the credential moves to its next one.
    await expect(issue(b, '4830917')).rejects.toMatchObject({ failure: 'DUPLICATE' });
    await expect(issue(b, '345678')).rejects.toMatchObject({ failure: 'DUPLICATE' });
    // A device that chooses its own codes takes none of the service's.
    await expect(issue(c, '483917')).rejects.toMatchObject({ failure: 'NOT_SUPPORTED' });
    expect(await codes()).toEqual(before);
    await expect(issue(a, '483917')).resolves.toMatchObject({ vendorRef: expect.any(String) });
    await expect(issue(b, '483917')).resolves.toMatchObject({ vendorRef: expect.any(String) });
  });
});
