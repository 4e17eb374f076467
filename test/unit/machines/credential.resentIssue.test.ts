/**
 * An issue sent again (its sender's sweeper, after a turn that may have run its vendor calls and ended without
 * a commit) may find at the vendor what that turn made, under the issue's operation ids. The runtime names the
 * locks such a turn may have issued on (`mayHaveRun`: those whose vendor issues in the turn). What arrived
 * meanwhile must not hide it: a revoke that tombstoned the credential, or a window or rooms that overtook the
 * issue. The issue is applied as it was sent where it may have been made, and what is no longer wanted is
 * revoked by look-up.
 */
import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../../src/machines/credential.ts';
import { at, grantStates, issueEvent, target } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(credentialMachine, { id: 'c1', tenantId: 't1' });
const issue = issueEvent([1], { validFrom: at(0), windowSeq: 1 });
const issueAgain = { ...issue, mayHaveRun: ['d1'] };
const revoke = { type: 'credential.revoke', at: at(2), reason: 'cancelled' };
const laterWindow = { type: 'credential.update', at: at(2), validUntil: '2026-01-05T11:00:00.000Z', seq: 2 };
const otherRooms = { type: 'credential.changeRooms', at: at(2), rooms: ['r2'], targets: [target(2)], seq: 2 };
const issued = (lock: number) => ({
  type: 'effect.done.issueGrant',
  at: at(4),
  operationId: `c1:d${lock}:issue`,
  vendorRef: `pwd-${lock}`,
});
const sweptAt = (lock: number) => ({
  type: 'effect.done.revokeGrant',
  at: at(5),
  operationId: `c1:d${lock}:revoke`,
  attempt: 1,
});
const calls = (o: { intents: { type: string; params: unknown }[] }) =>
  o.intents.filter((i) => i.type === 'callVendor').map((i) => i.params);

describe('credential: an issue sent again after a revoke overtook it', () => {
  it('credential: what the lost turn may have made is revoked by its operation id, without a word published', () => {
    const o = spec.given(revoke).when(issueAgain).then({ state: 'sweeping' });
    expect(o.intents).toMatchObject([
      {
        type: 'callVendor',
        params: {
          intent: 'revokeGrant',
          operationId: 'c1:d1:revoke',
          issueOperationId: 'c1:d1:issue',
          vendorRef: null,
        },
      },
    ]);
    expect(o.intents.some((i) => i.type === 'publishEvent')).toBe(false);
  });

  it('credential: once the vendor confirms, it is a tombstone again, with nothing published', () => {
    spec.given(revoke, issueAgain).when(sweptAt(1)).then({ state: 'tombstoned', intents: [] });
  });

  it('credential: only the locks a turn may have issued on are swept (not a card encoder, say)', () => {
    const twoLocks = { ...issueEvent([1, 2], { validFrom: at(0), windowSeq: 1 }), mayHaveRun: ['d2'] };
    const o = spec.given(revoke).when(twoLocks).then({ state: 'sweeping' });
    expect(calls(o)).toMatchObject([{ intent: 'revokeGrant', operationId: 'c1:d2:revoke' }]);
  });

  it('credential: an issue sent the first time, or on no lock a turn calls, makes nothing to sweep', () => {
    spec.given(revoke).when(issue).thenNothingHappened();
    spec
      .given(revoke)
      .when({ ...issue, mayHaveRun: [] })
      .thenNothingHappened();
  });
});

describe('credential: an issue sent again after a change overtook it', () => {
  it('credential: a newer window is applied after the issue as sent, not in its place', () => {
    const o = spec.given(laterWindow).when(issueAgain).then({ state: 'issuing' });
    expect(calls(o)).toMatchObject([
      { intent: 'issueGrant', operationId: 'c1:d1:issue', validUntil: issue.validUntil },
    ]);
    expect(o.context).toMatchObject({ validUntil: laterWindow.validUntil, windowSeq: 2 });
    // The issue's answer (what the lost turn made) is changed to the newer window.
    const after = spec.given(laterWindow, issueAgain).when(issued(1)).then({ state: 'issuing' });
    expect(after.intents).toMatchObject([
      {
        type: 'callVendor',
        params: { intent: 'modifyGrant', operationId: 'c1:d1:modify@1', validUntil: laterWindow.validUntil },
      },
    ]);
  });

  it('credential: sent the first time, the issue carries the newer window at once', () => {
    const o = spec.given(laterWindow).when(issue).then({ state: 'issuing' });
    expect(calls(o)).toMatchObject([{ intent: 'issueGrant', validUntil: laterWindow.validUntil }]);
  });

  it('credential: newer rooms: the new room is issued, the old one swept at once, never issued', () => {
    const o = spec.given(otherRooms).when(issueAgain).then({ state: 'issuing' });
    expect(calls(o)).toMatchObject([
      { intent: 'issueGrant', operationId: 'c1:d2:issue' },
      { intent: 'revokeGrant', operationId: 'c1:d1:revoke', vendorRef: null },
    ]);
    expect(o.context).toMatchObject({ rooms: ['r2'], roomsSeq: 2 });
  });

  it('credential: the new room issued, it is active at once: a slow or stalled sweep of the old one holds nothing up', () => {
    const o = spec.given(otherRooms, issueAgain).when(issued(2)).then({ state: 'active' });
    expect(o.intents).toMatchObject([
      { type: 'publishEvent', params: { verb: 'issued', data: { grants: [{ lockDeviceId: 'd2' }] } } },
    ]);
    // The sweep's answer later retires the old room's grant; nothing is announced again.
    const later = spec.given(otherRooms, issueAgain, issued(2)).when(sweptAt(1)).then({ state: 'active' });
    expect(grantStates(later.context)).toEqual(['issued']);
    expect(later.intents).toEqual([]);
  });

  it('credential: a swept lock is not moved by a vendor switch (no key on a room given up)', () => {
    const move = {
      type: 'credential.moveRoom',
      at: at(6),
      roomId: 'r1',
      from: 'd1',
      target: { roomId: 'r1', lockDeviceId: 'd9', vendor: 'seam', vendorDeviceRef: '9' },
    };
    spec.given(otherRooms, issueAgain, issued(2)).when(move).thenNothingHappened();
  });

  it('credential: newer rooms and a newer window: the new room gets the newer window at once', () => {
    const o = spec.given(laterWindow, otherRooms).when(issueAgain).then({ state: 'issuing' });
    expect(calls(o)).toMatchObject([
      { intent: 'issueGrant', operationId: 'c1:d2:issue', validUntil: laterWindow.validUntil },
      { intent: 'revokeGrant', operationId: 'c1:d1:revoke' },
    ]);
  });

  it('credential: a room the newer rooms keep is issued as sent, then changed to the newer window', () => {
    const both = {
      type: 'credential.changeRooms',
      at: at(2),
      rooms: ['r1', 'r2'],
      targets: [target(1), target(2)],
      seq: 2,
    };
    const o = spec.given(laterWindow, both).when(issueAgain).then({ state: 'issuing' });
    expect(calls(o)).toMatchObject([
      { intent: 'issueGrant', operationId: 'c1:d1:issue', validUntil: issue.validUntil },
      { intent: 'issueGrant', operationId: 'c1:d2:issue', validUntil: issue.validUntil },
    ]);
    expect(o.context).toMatchObject({ validUntil: laterWindow.validUntil });
  });
});
