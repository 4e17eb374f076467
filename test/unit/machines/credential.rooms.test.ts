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
});
