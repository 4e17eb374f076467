/**
 * Every published-event schema is met by a real machine's event, built into a commit as the runtime builds
 * it: the lock device's, the vendor switch's and the credential's lives (the credential against the vendor
 * model of test/support/lifecycleWorld.ts) publish each aggregate and verb the schemas name, and each event
 * passes its schema (LOCK_STRICT_EVENTS=1 makes `buildCommit` throw otherwise; checked here again).
 */
import { describe, expect, it } from 'vitest';
import { type AnyMachineSnapshot, initialTransition, transition } from 'xstate';
import { type ActorKind, actorKinds } from '../../../src/actors/index.ts';
import { buildCommit, type OutboxRow } from '../../../src/actors/commit.ts';
import {
  publishedEventName,
  publishedEventProblem,
  publishedEventSchemas,
} from '../../../src/contracts/index.ts';
import { issueEvent } from '../../support/credentialEvents.ts';
import { LifecycleWorld } from '../../support/lifecycleWorld.ts';

const at = '2026-01-01T08:00:00.000Z';

/** Applies `events` to a fresh actor of `kind`, committing each step; the published events. */
function commits(kind: ActorKind, id: string, events: { type: string; at: string }[]): OutboxRow[] {
  let [snapshot]: [AnyMachineSnapshot, unknown] = initialTransition(kind.machine, { id, tenantId: 't1' });
  return events.flatMap((event, version) => {
    const [next, actions] = transition(kind.machine, snapshot, event);
    const c = buildCommit({
      kind,
      tenantId: 't1',
      actorId: id,
      partition: 0,
      fence: 1n,
      previous: snapshot,
      next,
      previousVersion: version,
      seq: version + 1,
      epoch: 'e',
      consumed: {},
      msgId: `m${version + 1}`,
      event,
      actions,
      eventsRoot: 'melmastoon.lock',
      now: new Date(at),
    });
    snapshot = next;
    return c.outbox;
  });
}

function lockDeviceLife(): OutboxRow[] {
  const report = (r: Record<string, unknown>) => ({ type: 'lockDevice.vendorReport', at, ...r });
  return commits(actorKinds.lockDevice, 'd1', [
    {
      type: 'lockDevice.register',
      at,
      propertyId: 'p1',
      roomId: '101',
      vendor: 'ttlock',
      vendorDeviceRef: '7001',
      areas: [],
    },
    report({ battery: 10 }),
    report({ online: false }),
    report({ online: true }),
    { type: 'lockDevice.decommission', at, reason: 'replaced' },
  ] as { type: string; at: string }[]);
}

function vendorSwitchLives(): OutboxRow[] {
  const plan = {
    type: 'vendorSwitch.plan',
    at,
    propertyId: 'p1',
    from: 'ttlock',
    to: 'salto-ks',
    kinds: ['pin'],
    pilotRoom: null,
    rooms: [{ roomId: '101', oldDeviceId: 'old-101' }],
    previousPolicy: { pin: { preferredOrder: ['ttlock'] } },
  };
  const advance = (legacyLive = 0) => ({ type: 'vendorSwitch.advance', at, legacyLive });
  const completed = commits(actorKinds.vendorSwitch, 'sw1', [
    plan,
    advance(),
    advance(),
    {
      type: 'vendorSwitch.roomCutover',
      at,
      roomId: '101',
      newDevice: { id: 'new-101', vendorDeviceRef: 'ks-101', areas: [] },
      credentialIds: ['c1'],
    },
    advance(),
    advance(),
    {
      type: 'vendorSwitch.retiring',
      at,
      revokedAtVendor: [],
      destroyed: ['appSecret'],
      rotateAtVendor: ['appSecret'],
      webhookRemoved: true,
    },
    { type: 'vendorSwitch.retired', at },
  ] as { type: string; at: string }[]);
  const aborted = commits(actorKinds.vendorSwitch, 'sw2', [
    plan,
    { type: 'vendorSwitch.abort', at, reason: 'changed our mind' },
  ] as { type: string; at: string }[]);
  return [...completed, ...aborted];
}

const W2 = { validFrom: '2026-01-01T14:00:00.000Z', validUntil: '2026-01-06T11:00:00.000Z' };
const retry = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 60_000 };
const world = (extra: Record<string, unknown> = {}, locks = [1, 2]) => {
  const w = new LifecycleWorld();
  w.send(issueEvent(locks, { retry, ...extra }));
  return w;
};
const revoke = (w: LifecycleWorld) =>
  w.send({ type: 'credential.revoke', at: w.now(), reason: 'checked_out' });

function credentialLives(): OutboxRow[] {
  // Issued, updated, a revoke refused for good (stalled), then revoked.
  const guest = world();
  guest.quiesce();
  guest.send({ type: 'credential.update', at: guest.now(), ...W2 });
  guest.quiesce();
  revoke(guest);
  guest.deliver('auth');
  guest.quiesce();
  // A room moved onto a vendor that chooses PINs: `updated` names the door's new PIN.
  const moved = new LifecycleWorld();
  moved.vendor.choosesPins.add('salto-ks');
  moved.send(
    issueEvent([1], {
      retry,
      targets: [{ roomId: 'r1', lockDeviceId: 'd1', vendor: 'salto-ks', vendorDeviceRef: '1' }],
    }),
  );
  moved.quiesce();
  moved.send({
    type: 'credential.moveRoom',
    at: moved.now(),
    roomId: 'r1',
    from: 'd1',
    target: { roomId: 'r1', lockDeviceId: 'd9', vendor: 'salto-ks', vendorDeviceRef: '9' },
  });
  moved.quiesce();
  // A new lock that refuses the credential for good: the move fails, the credential stays.
  const refused = world();
  refused.quiesce();
  refused.send({
    type: 'credential.moveRoom',
    at: refused.now(),
    roomId: 'r1',
    from: 'd1',
    target: { roomId: 'r1', lockDeviceId: 'd9', vendor: 'seam', vendorDeviceRef: '9' },
  });
  refused.deliver('permanent');
  refused.quiesce();
  // Expired at the end of its window; failed at once for a room with no lock.
  const expiring = world();
  expiring.quiesce();
  expiring.fire('expire');
  expiring.quiesce();
  const failed = world({ unresolved: [{ roomId: 'r3', code: 'NO_LOCK_FOR_ROOM' }] });
  // A staff master key over areas: issued, then revoked.
  const master = world({
    holder: { kind: 'staff', ref: 'staff-1' },
    reservationId: null,
    areas: ['floor-1'],
  });
  master.quiesce();
  revoke(master);
  master.quiesce();
  return [guest, moved, refused, expiring, failed, master].flatMap((w) => w.outbox);
}

describe('published events from the machines', () => {
  const rows = [...lockDeviceLife(), ...vendorSwitchLives(), ...credentialLives()];

  it('published events: every schema is met by a machine event', () => {
    const seen = new Set(rows.map((r) => publishedEventName(r.subject)));
    expect(Object.keys(publishedEventSchemas).filter((name) => !seen.has(name))).toEqual([]);
  });

  it('published events: every machine event passes its schema', () => {
    expect(rows.flatMap((r) => publishedEventProblem(r.subject, r.payload) ?? [])).toEqual([]);
  });

  it('published events: an announced new PIN names its door, never the PIN', () => {
    const updated = rows.filter((r) => r.subject.endsWith('.key_credential.updated.v1'));
    expect(updated.map((r) => (r.payload.data as { newPins?: unknown }).newPins)).toContainEqual([
      { roomId: 'r1', lockDeviceId: 'd9' },
    ]);
    expect(JSON.stringify(rows)).not.toMatch(/pin0|chosen-|v1\.enc/);
  });
});
