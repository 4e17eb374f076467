/**
 * The credential's whole life against a reference model of its vendor (test/support/lifecycleWorld.ts): each
 * spec names a way a door could stay open that should be closed, or a change could be lost, and checks what
 * the vendor ends up holding — never the machine's insides.
 */
import { describe, expect, it } from 'vitest';
import { newPinRefs } from '../../../src/machines/index.ts';
import { issueEvent } from '../../support/credentialEvents.ts';
import { LifecycleWorld } from '../../support/lifecycleWorld.ts';

const W1 = { validFrom: '2026-01-01T14:00:00.000Z', validUntil: '2026-01-03T11:00:00.000Z' };
const W2 = { validFrom: '2026-01-01T14:00:00.000Z', validUntil: '2026-01-06T11:00:00.000Z' };
const retry = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 60_000 };

function world(locks: number[] = [1], extra: Record<string, unknown> = {}) {
  const w = new LifecycleWorld();
  w.send(issueEvent(locks, { secret: 'pin0', spareSecrets: ['pin1', 'pin2'], retry, ...W1, ...extra }));
  return w;
}
const update = (w: LifecycleWorld, window = W2) =>
  w.send({ type: 'credential.update', at: w.now(), ...window });
const revoke = (w: LifecycleWorld) =>
  w.send({ type: 'credential.revoke', at: w.now(), reason: 'checked_out' });
const verbs = (w: LifecycleWorld) => w.published.map((p) => p.verb);

describe('credential lifecycle against the vendor', () => {
  it('lifecycle: issue, then revoke, leaves nothing at the vendor and publishes revoked once', () => {
    const w = world([1, 2]);
    w.quiesce();
    expect(w.status).toBe('active');
    expect(w.invariantViolations()).toEqual([]);
    revoke(w);
    w.quiesce();
    expect(w.status).toBe('revoked');
    expect(w.heldAtVendor()).toEqual([]);
    expect(verbs(w).filter((v) => v === 'revoked')).toHaveLength(1);
  });

  it('lifecycle: a window changed while the credential is still issuing reaches the vendor', () => {
    const w = world();
    update(w);
    w.quiesce();
    expect(w.status).toBe('active');
    expect(w.context).toMatchObject(W2);
    expect(w.invariantViolations()).toEqual([]);
  });

  it('lifecycle: a window changed while an issue waits to be retried reaches the vendor', () => {
    const w = world();
    w.deliver('retryable');
    update(w);
    w.quiesce();
    expect(w.status).toBe('active');
    expect(w.context).toMatchObject(W2);
    expect(w.invariantViolations()).toEqual([]);
  });

  it('lifecycle: a revoke the vendor refuses for good stays revoking, says why, and completes once the vendor allows it', () => {
    const w = world();
    w.quiesce();
    revoke(w);
    w.deliver('auth');
    expect(w.status).toBe('revoking');
    expect(w.context.failure).toMatchObject({ code: 'AUTH' });
    expect(verbs(w)).not.toContain('revoked');
    expect(verbs(w).filter((v) => v === 'revoke_stalled')).toHaveLength(1);
    expect(w.heldAtVendor()).toHaveLength(1);
    // The password is fixed: the next attempt goes through.
    w.quiesce();
    expect(w.status).toBe('revoked');
    expect(w.heldAtVendor()).toEqual([]);
    expect(verbs(w).filter((v) => v === 'revoked')).toHaveLength(1);
  });

  it('lifecycle: a revoke that keeps failing never reports revoked, backs off to at most 15 minutes, and stalls once', () => {
    const w = world();
    w.quiesce();
    revoke(w);
    for (let attempt = 0; attempt < 20; attempt++) {
      const sentAt = Date.parse(w.now());
      w.deliver('retryable');
      expect(w.status).toBe('revoking');
      const [key, t] = [...w.timers].find(([k]) => k !== 'expire') ?? [];
      expect(key, 'a retry is scheduled').toBeDefined();
      expect(Date.parse(t!.dueAt) - sentAt).toBeLessThanOrEqual(15 * 60_000 + 2000);
      w.fire(key!);
    }
    expect(verbs(w)).not.toContain('revoked');
    expect(verbs(w).filter((v) => v === 'revoke_stalled')).toHaveLength(1);
    w.quiesce();
    expect(w.status).toBe('revoked');
    expect(w.heldAtVendor()).toEqual([]);
  });

  it("lifecycle: a vendor's hint to come back in a month never parks a revoke or an issue past 15 minutes", () => {
    const w = world();
    const sentAt = Date.parse(w.now());
    w.deliver('monthlyQuota');
    const due = () => Date.parse(([...w.timers].find(([k]) => k !== 'expire') ?? [])[1]?.dueAt ?? '');
    expect(due() - sentAt).toBeLessThanOrEqual(15 * 60_000 + 2000);
    w.quiesce();
    revoke(w);
    const revokeAt = Date.parse(w.now());
    w.deliver('monthlyQuota');
    expect(w.status).toBe('revoking');
    expect(due() - revokeAt).toBeLessThanOrEqual(15 * 60_000 + 2000);
  });

  it("lifecycle: a room whose lock is replaced gets the new lock's grant first; the old one goes after, and the credential stays active", () => {
    const w = world([1, 2]);
    w.quiesce();
    w.send({
      type: 'credential.moveRoom',
      at: w.now(),
      roomId: 'r1',
      from: 'd1',
      target: { roomId: 'r1', lockDeviceId: 'd9', vendor: 'seam', vendorDeviceRef: '9' },
    });
    expect(w.status).toBe('updating');
    // Only the new lock's issue is asked for: the old lock is not touched before it holds the credential.
    expect(w.pending.map((i) => [i.intent, i.lockDeviceId])).toEqual([['issueGrant', 'd9']]);
    w.deliver('done');
    expect(w.pending.map((i) => [i.intent, i.lockDeviceId])).toEqual([['revokeGrant', 'd1']]);
    w.quiesce();
    expect(w.status).toBe('active');
    expect(
      w
        .heldAtVendor()
        .map((o) => o.lockRef)
        .sort(),
    ).toEqual(['2', '9']);
    expect(w.invariantViolations()).toEqual([]);
    expect(verbs(w).filter((v) => v === 'updated')).toHaveLength(1);
    // A revoke takes every lock it holds now.
    revoke(w);
    w.quiesce();
    expect([w.status, w.heldAtVendor()]).toEqual(['revoked', []]);
  });

  it("lifecycle: a room moved onto a vendor that chooses PINs announces the door's new PIN once; the issue's PINs are not new", () => {
    const w = new LifecycleWorld();
    w.vendor.choosesPins.add('salto-ks');
    w.send(
      issueEvent([1], {
        secret: 'pin0',
        retry,
        ...W1,
        targets: [{ roomId: 'r1', lockDeviceId: 'd1', vendor: 'salto-ks', vendorDeviceRef: '1' }],
        rooms: ['r1', 'r2'],
      }),
    );
    w.quiesce();
    expect(newPinRefs(w.context)).toEqual(new Set());
    const move = (room: string, from: string, to: string) =>
      w.send({
        type: 'credential.moveRoom',
        at: w.now(),
        roomId: room,
        from,
        target: { roomId: room, lockDeviceId: to, vendor: 'salto-ks', vendorDeviceRef: to.slice(1) },
      });
    move('r1', 'd1', 'd9');
    // The new lock holds it: announced at once, before the old lock's grant is even closed.
    w.deliver('done');
    expect(w.pending.map((i) => [i.intent, i.lockDeviceId])).toEqual([['revokeGrant', 'd1']]);
    const announced = () =>
      w.published.filter((p) => p.verb === 'updated').flatMap((p) => (p.data?.newPins as unknown[]) ?? []);
    expect(announced()).toEqual([{ roomId: 'r1', lockDeviceId: 'd9' }]);
    w.quiesce();
    expect(w.status).toBe('active');
    expect([...newPinRefs(w.context)]).toEqual([expect.stringMatching(/^d9@0:/)]);
    // Named once: neither the end of the move nor a later window change names it again.
    update(w);
    w.quiesce();
    expect(announced()).toHaveLength(1);
    // The vendor loses it and it is made again: another PIN, announced too.
    const lost = w.context.grants[0]?.context.vendorRef ?? '';
    w.send({ type: 'credential.grantLost', at: w.now(), lockDeviceId: 'd9', vendorRef: lost });
    w.quiesce();
    expect(w.status).toBe('active');
    expect(announced()).toEqual([
      { roomId: 'r1', lockDeviceId: 'd9' },
      { roomId: 'r1', lockDeviceId: 'd9' },
    ]);
    expect(newPinRefs(w.context).size).toBe(1);
  });

  it('lifecycle: a new lock that refuses the credential for good gives up the move, not the credential: the old lock keeps it', () => {
    const w = world([1, 2]);
    w.quiesce();
    w.send({
      type: 'credential.moveRoom',
      at: w.now(),
      roomId: 'r1',
      from: 'd1',
      target: { roomId: 'r1', lockDeviceId: 'd9', vendor: 'seam', vendorDeviceRef: '9' },
    });
    w.deliver('permanent');
    w.quiesce();
    expect(w.status).toBe('active');
    expect(
      w
        .heldAtVendor()
        .map((o) => o.lockRef)
        .sort(),
    ).toEqual(['1', '2']);
    expect(w.context.grants.map((g) => g.context.lockDeviceId)).toEqual(['d1', 'd2']);
    expect(verbs(w).filter((v) => v === 'move_failed')).toHaveLength(1);
    expect(verbs(w)).not.toContain('failed');
    // Moved again later (a switch's next pass), it goes through.
    w.send({
      type: 'credential.moveRoom',
      at: w.now(),
      roomId: 'r1',
      from: 'd1',
      target: { roomId: 'r1', lockDeviceId: 'd9', vendor: 'seam', vendorDeviceRef: '9' },
    });
    w.quiesce();
    expect(
      w
        .heldAtVendor()
        .map((o) => o.lockRef)
        .sort(),
    ).toEqual(['2', '9']);
  });

  it("lifecycle: a PIN the new lock already has gives up the move; the guest's PIN does not change on the other doors", () => {
    const w = world([1, 2]);
    w.quiesce();
    w.vendor.foreignPins.set('9', new Set(['pin0']));
    w.send({
      type: 'credential.moveRoom',
      at: w.now(),
      roomId: 'r1',
      from: 'd1',
      target: { roomId: 'r1', lockDeviceId: 'd9', vendor: 'seam', vendorDeviceRef: '9' },
    });
    w.quiesce();
    expect(w.status).toBe('active');
    expect(w.context.secret).toBe('pin0');
    expect(
      w
        .heldAtVendor()
        .map((o) => [o.lockRef, o.secret])
        .sort(),
    ).toEqual([
      ['1', 'pin0'],
      ['2', 'pin0'],
    ]);
    expect(verbs(w).filter((v) => v === 'move_failed')).toHaveLength(1);
  });

  it('lifecycle: an expiry timer published for the old window does not end an extended stay', () => {
    const w = world();
    w.quiesce();
    const oldExpiry = w.timers.get('expire');
    expect(oldExpiry?.dueAt).toBe(W1.validUntil);
    update(w);
    w.quiesce();
    w.fireStale(oldExpiry!);
    expect(w.status).toBe('active');
    expect(w.invariantViolations()).toEqual([]);
    expect(w.timers.get('expire')?.dueAt).toBe(W2.validUntil);
  });

  it('lifecycle: the expiry timer of the current window still ends the credential', () => {
    const w = world();
    w.quiesce();
    w.fire('expire');
    w.quiesce();
    expect(w.status).toBe('expired');
    expect(w.heldAtVendor()).toEqual([]);
  });

  it('lifecycle: a grant lost while the credential is updating is replaced, with the new window', () => {
    const w = world([1, 2]);
    w.quiesce();
    update(w);
    // The first lock's change lands; the vendor then drops it while the second's is still in flight.
    w.deliver('done');
    const lost = w.heldAtVendor().find((o) => o.lockRef === '1')!;
    w.vendor.lose(lost.ref);
    w.send({ type: 'credential.grantLost', at: w.now(), lockDeviceId: 'd1', vendorRef: lost.ref });
    w.quiesce();
    expect(w.status).toBe('active');
    expect(w.invariantViolations()).toEqual([]);
    expect(w.heldAtVendor()).toHaveLength(2);
  });

  it('lifecycle: a window changed while a lost grant is issued again lands on the replacement before updated is published', () => {
    const w = world();
    w.quiesce();
    const lost = w.heldAtVendor()[0]!;
    w.vendor.lose(lost.ref);
    w.send({ type: 'credential.grantLost', at: w.now(), lockDeviceId: 'd1', vendorRef: lost.ref });
    w.deliver('done'); // the revoke of what the vendor listed; the replacement's issue is now in flight
    update(w);
    w.quiesce();
    expect(w.status).toBe('active');
    expect(w.invariantViolations()).toEqual([]);
    const updated = w.published.filter((p) => p.verb === 'updated');
    expect(updated.length).toBeGreaterThan(0);
    expect(updated.at(-1)?.data).toMatchObject({ validUntil: W2.validUntil });
  });

  it('lifecycle: an issue retried after the credential changed its PIN does not keep the old PIN at the vendor', () => {
    const w = world([1, 2]);
    w.vendor.foreignPins.set('2', new Set(['pin0']));
    // Lock 1's issue reaches the vendor but the answer is lost; lock 2 already holds the PIN (another guest's).
    w.deliver('timeoutThenDone', 0);
    w.deliver('done', 0);
    expect(w.context.secret).toBe('pin1');
    w.quiesce();
    expect(w.status).toBe('active');
    expect(w.invariantViolations()).toEqual([]);
  });

  // Found by an adversarial review of the new machines.

  it('lifecycle: a revoke that stalled while a grant was replaced does not hide a stall at check-out', () => {
    const w = world();
    w.quiesce();
    update(w);
    w.deliver('permanent'); // the vendor refuses the change: the grant is replaced, its old generation revoked
    w.deliver('auth'); // that revoke is refused for good: stalled
    expect(verbs(w).filter((v) => v === 'revoke_stalled')).toHaveLength(1);
    w.quiesce(); // the password is fixed; the replacement lands
    expect(w.status).toBe('active');
    revoke(w);
    w.deliver('auth'); // refused again, at check-out
    expect(w.status).toBe('revoking');
    expect(verbs(w).filter((v) => v === 'revoke_stalled')).toHaveLength(2);
    expect(w.context.failure).toMatchObject({ code: 'AUTH' });
    w.quiesce();
    expect(w.status).toBe('revoked');
    expect(w.context.failure).toBeNull();
  });

  it('lifecycle: a refusal of a PIN the credential has already left does not use up another spare', () => {
    const w = world([1, 2]);
    w.vendor.foreignPins.set('1', new Set(['pin0']));
    w.vendor.foreignPins.set('2', new Set(['pin0']));
    w.deliver('done', 0); // lock 1 refuses pin0: the credential moves to pin1
    expect(w.context.secret).toBe('pin1');
    w.deliver('done', 0); // lock 2's issue, still with pin0, is refused too: it follows with pin1
    w.quiesce();
    expect(w.status).toBe('active');
    expect(w.context.secret).toBe('pin1');
    expect(w.invariantViolations()).toEqual([]);
  });

  it('lifecycle: a change the vendor keeps failing for a reason that may pass is retried, never replaced', () => {
    const w = world();
    w.quiesce();
    const before = w.heldAtVendor()[0]!.ref;
    update(w);
    for (let i = 0; i < 10; i++) {
      expect(w.pending.map((x) => x.intent)).toEqual(['modifyGrant']);
      w.deliver('retryable');
      const key = [...w.timers.keys()].find((k) => k !== 'expire')!;
      w.fire(key);
    }
    w.quiesce();
    expect(w.status).toBe('active');
    // The same credential at the vendor (a vendor-chosen PIN would otherwise have changed unannounced).
    expect(w.heldAtVendor().map((o) => o.ref)).toEqual([before]);
    expect(w.invariantViolations()).toEqual([]);
  });

  it('lifecycle: a lost grant whose replacement keeps failing for a reason that may pass keeps the stay open', () => {
    const w = world([1, 2]);
    w.quiesce();
    const lost = w.heldAtVendor().find((o) => o.lockRef === '1')!;
    w.vendor.lose(lost.ref);
    w.send({ type: 'credential.grantLost', at: w.now(), lockDeviceId: 'd1', vendorRef: lost.ref });
    w.deliver('done'); // what the vendor listed is revoked; the replacement is issued next
    for (let i = 0; i < 6; i++) {
      w.deliver('retryable');
      expect(w.status).toBe('active');
      w.fire([...w.timers.keys()].find((k) => k !== 'expire')!);
    }
    w.quiesce();
    expect(w.status).toBe('active');
    expect(w.invariantViolations()).toEqual([]);
  });

  it('lifecycle: a close while a grant is being replaced sends its revoke once', () => {
    const w = world();
    w.quiesce();
    const lost = w.heldAtVendor()[0]!;
    w.send({ type: 'credential.grantLost', at: w.now(), lockDeviceId: 'd1', vendorRef: lost.ref });
    expect(w.pending.map((x) => x.intent)).toEqual(['revokeGrant']);
    revoke(w);
    expect(w.pending.map((x) => x.intent)).toEqual(['revokeGrant']);
    w.quiesce();
    expect(w.status).toBe('revoked');
    expect(w.heldAtVendor()).toEqual([]);
  });

  it('lifecycle: a change of the end only keeps the start the credential has now', () => {
    const w = world();
    w.quiesce();
    w.send({ type: 'credential.update', at: w.now(), validUntil: W2.validUntil });
    w.quiesce();
    expect(w.context).toMatchObject({ validFrom: W1.validFrom, validUntil: W2.validUntil });
    expect(w.invariantViolations()).toEqual([]);
  });
});
