/**
 * An issue sent again (`again`: its sender's sweeper, after a turn that may have run its vendor calls and
 * ended without a commit) may find at the vendor what that turn made, under the issue's operation ids. What
 * arrived meanwhile must not hide it: a revoke that tombstoned the credential, or a window or rooms that
 * overtook the issue. The issue is applied as it was sent (what the lost turn called), and the rest after it.
 */
import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../../src/machines/credential.ts';
import { at, grantStates, issueEvent, target } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(credentialMachine, { id: 'c1', tenantId: 't1' });
const issue = issueEvent([1], { validFrom: at(0), windowSeq: 1 });
const issueAgain = { ...issue, again: true };
const revoke = { type: 'credential.revoke', at: at(2), reason: 'cancelled' };
const laterWindow = { type: 'credential.update', at: at(2), validUntil: '2026-01-05T11:00:00.000Z', seq: 2 };
const otherRooms = { type: 'credential.changeRooms', at: at(2), rooms: ['r2'], targets: [target(2)], seq: 2 };
const issued = (lock: number) => ({
  type: 'effect.done.issueGrant',
  at: at(4),
  operationId: `c1:d${lock}:issue`,
  vendorRef: `pwd-${lock}`,
});

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
    spec
      .given(revoke, issueAgain)
      .when({ type: 'effect.done.revokeGrant', at: at(5), operationId: 'c1:d1:revoke', attempt: 1 })
      .then({ state: 'tombstoned', intents: [] });
  });

  it('credential: an issue sent the first time makes nothing to sweep: the tombstone stays as it is', () => {
    spec.given(revoke).when(issue).thenNothingHappened();
  });
});

describe('credential: an issue sent again after a change overtook it', () => {
  it('credential: a newer window is applied after the issue as sent, not in its place', () => {
    const o = spec.given(laterWindow).when(issueAgain).then({ state: 'issuing' });
    expect(o.intents.filter((i) => i.type === 'callVendor')).toMatchObject([
      { params: { intent: 'issueGrant', operationId: 'c1:d1:issue', validUntil: issue.validUntil } },
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
    expect(o.intents.filter((i) => i.type === 'callVendor')).toMatchObject([
      { params: { intent: 'issueGrant', validUntil: laterWindow.validUntil } },
    ]);
  });

  it('credential: newer rooms: the issue goes to its own rooms, and moves to the new ones after', () => {
    const o = spec.given(otherRooms).when(issueAgain).then({ state: 'issuing' });
    expect(o.intents.filter((i) => i.type === 'callVendor')).toMatchObject([
      { params: { intent: 'issueGrant', operationId: 'c1:d1:issue' } },
      { params: { intent: 'issueGrant', operationId: 'c1:d2:issue' } },
    ]);
    expect(o.context).toMatchObject({ rooms: ['r2'], roomsSeq: 2, dropping: ['d1'] });
    // Both issued: the old room's lock (what the lost turn may have made) is revoked.
    const both = spec.given(otherRooms, issueAgain, issued(1)).when(issued(2)).outcome;
    expect(both.intents.filter((i) => i.type === 'callVendor')).toMatchObject([
      { params: { intent: 'revokeGrant', operationId: 'c1:d1:revoke', vendorRef: 'pwd-1' } },
    ]);
    expect(grantStates(both.context)).toEqual([{ closing: 'revoking' }, 'issued']);
  });
});
