/**
 * A reservation's rooms change (`credential.changeRooms`): new rooms are issued before the rooms given up are
 * revoked, and a room taken back while its lock's grant is closing is issued again once that grant is gone —
 * never left without the PIN while the credential says it has the room.
 */
import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../../src/machines/credential.ts';
import { at, grantStates, issueEvent, target } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(credentialMachine, { id: 'c1', tenantId: 't1' });
const issue = issueEvent([1, 2], { validFrom: at(0) });
const issued = (lock: number, gen = '') => ({
  type: 'effect.done.issueGrant',
  at: at(4),
  operationId: `c1:d${lock}:issue${gen}`,
  vendorRef: `pwd-${lock}${gen}`,
});
const revokedAt = (lock: number) => ({
  type: 'effect.done.revokeGrant',
  at: at(8),
  operationId: `c1:d${lock}:revoke`,
  attempt: 1,
});
const rooms = (seq: number, ...locks: number[]) => ({
  type: 'credential.changeRooms',
  at: at(5 + seq),
  rooms: locks.map((n) => `r${n}`),
  targets: locks.map(target),
  seq,
});
const calls = (o: { intents: { type: string; params: unknown }[] }) =>
  o.intents.filter((i) => i.type === 'callVendor').map((i) => i.params);

describe('credential: rooms given up and taken back', () => {
  const active = [issue, issued(1), issued(2)] as const;

  it('credential: a room given up is revoked at once when every other room holds the credential', () => {
    const o = spec
      .given(...active)
      .when(rooms(1, 2))
      .then({ state: 'updating' });
    expect(calls(o)).toMatchObject([{ intent: 'revokeGrant', operationId: 'c1:d1:revoke' }]);
  });

  it('credential: taken back while its revoke is in flight, the room is issued again once it is gone', () => {
    const back = spec
      .given(...active, rooms(1, 2))
      .when(rooms(2, 1, 2))
      .then({ state: 'updating' });
    // The revoke in flight is not raced: nothing is called until it answers.
    expect(calls(back)).toEqual([]);
    const again = spec.given(...active, rooms(1, 2), rooms(2, 1, 2)).when(revokedAt(1)).outcome;
    expect(calls(again)).toMatchObject([{ intent: 'issueGrant', operationId: 'c1:d1:issue@1' }]);
    const done = spec
      .given(...active, rooms(1, 2), rooms(2, 1, 2), revokedAt(1))
      .when(issued(1, '@1'))
      .then({ state: 'active' });
    expect(grantStates(done.context)).toEqual(['issued', 'issued']);
    expect(done.context).toMatchObject({ rooms: ['r1', 'r2'] });
  });

  it('credential: a lock a resent issue swept, wanted again by a later room change, is issued again', () => {
    const issueAgain = { ...issueEvent([1], { validFrom: at(0), windowSeq: 1 }), mayHaveRun: ['d1'] };
    const sweptAway = [rooms(2, 2), issueAgain] as const;
    const again = spec.given(...sweptAway, rooms(3, 1, 2)).when(revokedAt(1)).outcome;
    expect(calls(again)).toMatchObject([{ intent: 'issueGrant', operationId: 'c1:d1:issue@1' }]);
    expect(again.context).toMatchObject({ dropped: [] });
  });

  describe('credential: rooms and a vendor switch', () => {
    const single = issueEvent([1], { validFrom: at(0) });
    const newLock = { roomId: 'r1', lockDeviceId: 'd9', vendor: 'seam', vendorDeviceRef: '9' };
    const move = { type: 'credential.moveRoom', at: at(6), roomId: 'r1', from: 'd1', target: newLock };

    it('credential: a room being given up is not moved to its new lock (no PIN on a room the guest left)', () => {
      const giving = [issue, issued(1), issued(2), rooms(1, 2, 3)] as const;
      spec
        .given(...giving)
        .when(move)
        .thenNothingHappened();
    });

    it('credential: rooms planned before a cutover name the old lock: the move stands, nothing is reopened there', () => {
      const moved = [single, issued(1), move, { ...issued(9), operationId: 'c1:d9:issue' }] as const;
      const o = spec.given(...moved).when(rooms(1, 1)).outcome;
      // No issue on the old lock, and the new lock's grant is not given up.
      expect(calls(o)).toEqual([]);
      expect(o.context).toMatchObject({ dropping: [] });
      expect(
        (o.context.grants as { context: { lockDeviceId: string; want: { open: boolean } } }[]).map((g) => [
          g.context.lockDeviceId,
          g.context.want.open,
        ]),
      ).toEqual([
        ['d1', false],
        ['d9', true],
      ]);
    });
  });
});
