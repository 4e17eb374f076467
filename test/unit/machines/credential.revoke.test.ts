import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../../src/machines/credential.ts';
import { at, grantStates, issueEvent } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(credentialMachine, { id: 'c1', tenantId: 't1' });
// validFrom at(0): the stay has begun, so the credential is active once issued.
const issue = issueEvent([1], { validFrom: at(0) });
const issued = { type: 'effect.done.issueGrant', at: at(1), operationId: 'c1:d1:issue', vendorRef: 'pwd-1' };
const revoke = { type: 'credential.revoke', at: at(2), reason: 'checked_out' };
const revokedAtVendor = { type: 'effect.done.revokeGrant', at: at(3), operationId: 'c1:d1:revoke' };

describe('credential: revoke', () => {
  it('credential: revoking an active credential revokes its grant and cancels expiry', () => {
    const o = spec.given(issue, issued).when(revoke).then({ state: 'revoking' });
    expect(o.intents).toMatchObject([
      { type: 'cancelTimer', params: { key: 'expire' } },
      {
        type: 'callVendor',
        params: { intent: 'revokeGrant', vendorRef: 'pwd-1', operationId: 'c1:d1:revoke' },
      },
    ]);
  });

  it('credential: the vendor confirming the revoke ends it revoked with a revoked event', () => {
    spec
      .given(issue, issued, revoke)
      .when(revokedAtVendor)
      .then({
        state: 'revoked',
        intents: [{ type: 'publishEvent', params: { verb: 'revoked', data: { reason: 'checked_out' } } }],
      });
  });

  it('credential: NOT_FOUND on revoke counts as revoked', () => {
    spec
      .given(issue, issued, revoke)
      .when({
        type: 'effect.failed.revokeGrant',
        at: at(3),
        operationId: 'c1:d1:revoke',
        error: { code: 'NOT_FOUND', message: 'gone', retryable: false },
      })
      .then({ state: 'revoked' });
  });

  it('credential: revoke during issuing waits for the issue outcome, then revokes it', () => {
    const waiting = spec
      .given(issue)
      .when(revoke)
      .then({ state: 'revoking', intents: [{ type: 'cancelTimer', params: { key: 'expire' } }] });
    // The issue in flight is not raced: the grant notes the close and revokes once the issue has answered.
    expect(grantStates(waiting.context)).toEqual(['issuing']);
    expect(waiting.context.grants).toMatchObject([{ context: { want: { open: false } } }]);
    spec
      .given(issue, revoke)
      .when(issued)
      .then({
        state: 'revoking',
        intents: [
          {
            type: 'callVendor',
            params: expect.objectContaining({ intent: 'revokeGrant', vendorRef: 'pwd-1' }),
          },
        ],
      });
  });

  it('credential: an issue that failed during revoke is still revoked by operation lookup', () => {
    const o = spec.given(issue, revoke).when({
      type: 'effect.failed.issueGrant',
      at: at(3),
      operationId: 'c1:d1:issue',
      error: { code: 'VENDOR_TIMEOUT', message: 'timeout', retryable: true },
    });
    expect(o.outcome.intents).toMatchObject([
      {
        type: 'callVendor',
        params: { intent: 'revokeGrant', vendorRef: null, issueOperationId: 'c1:d1:issue' },
      },
    ]);
  });

  it('credential: expiry revokes and ends expired', () => {
    const expire = { type: 'timer.expire', at: '2026-01-03T11:00:00.000Z' };
    spec.given(issue, issued).when(expire).then({ state: 'revoking' });
    spec
      .given(issue, issued, expire)
      .when(revokedAtVendor)
      .then({
        state: 'expired',
        intents: [{ type: 'publishEvent', params: { verb: 'expired' } }],
      });
  });

  it('credential: a second revoke changes nothing', () => {
    spec
      .given(issue, issued, revoke)
      .when({ ...revoke, at: at(5) })
      .thenNothingHappened();
  });
});

describe('credential: revoke before issue', () => {
  it('credential: a revoke that overtakes its issue leaves a tombstone the late issue cannot revive', () => {
    spec.given().when(revoke).then({ state: 'tombstoned', intents: [] });
    spec.given(revoke).when(issue).thenNothingHappened();
  });
});
