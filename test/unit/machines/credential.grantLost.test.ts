/** A vendor reports that an issued grant never reached its lock: the grant is replaced, the credential stays active. */
import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../../src/machines/credential.ts';
import { at, issueEvent } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(credentialMachine, { id: 'c1', tenantId: 't1' });
const issue = issueEvent([1, 2], { retry: { maxAttempts: 2, baseDelayMs: 1000, maxDelayMs: 60_000 } });
const issued = (n: number, operationId = `c1:d${n}:issue`, vendorRef = `pwd-${n}`) => ({
  type: 'effect.done.issueGrant',
  at: at(1),
  operationId,
  vendorRef,
});
const active = [issue, issued(1), issued(2)];
const lost = (n: number, vendorRef = `pwd-${n}`) => ({
  type: 'credential.grantLost',
  at: at(3),
  lockDeviceId: `d${n}`,
  vendorRef,
});
const revoked = (operationId: string) => ({ type: 'effect.done.revokeGrant', at: at(4), operationId });

describe('credential: a grant the vendor lost', () => {
  it('credential: the lost grant is revoked at the vendor, then issued again as the next generation', () => {
    const o = spec
      .given(...active)
      .when(lost(2))
      .then({ state: 'active' });
    expect(o.intents.map((i) => [i.type, (i.params as { operationId?: string }).operationId])).toEqual([
      ['callVendor', 'c1:d2:revoke'],
    ]);
    const again = spec
      .given(...active, lost(2))
      .when(revoked('c1:d2:revoke'))
      .then({ state: 'active' });
    expect(again.intents[0]?.params).toMatchObject({ intent: 'issueGrant', operationId: 'c1:d2:issue@1' });
    const done = spec
      .given(...active, lost(2), revoked('c1:d2:revoke'))
      .when(issued(2, 'c1:d2:issue@1', 'pwd-9'))
      .then({ state: 'active' });
    const grants = done.context.grants as {
      value: string;
      context: { lockDeviceId: string; vendorRef: string };
    }[];
    expect(grants.map((g) => [g.context.lockDeviceId, g.value, g.context.vendorRef])).toEqual([
      ['d1', 'issued', 'pwd-1'],
      ['d2', 'issued', 'pwd-9'],
    ]);
    // No second `issued` event: the credential never stopped being active.
    expect(done.intents).toEqual([]);
  });

  it('credential: a notice about another reference, or a grant not issued, changes nothing', () => {
    spec
      .given(...active)
      .when(lost(2, 'pwd-other'))
      .thenNothingHappened();
    spec.given(issue, issued(1)).when(lost(2)).thenNothingHappened();
  });

  it('credential: if the lost grant cannot be issued again, the credential fails and closes', () => {
    const o = spec
      .given(...active, lost(2), revoked('c1:d2:revoke'))
      .when({
        type: 'effect.failed.issueGrant',
        at: at(5),
        operationId: 'c1:d2:issue@1',
        error: { code: 'CAPACITY', message: 'lock full', retryable: false },
      })
      .then({ state: 'revoking' });
    expect(o.context.closeGoal).toBe('failed');
  });
});
