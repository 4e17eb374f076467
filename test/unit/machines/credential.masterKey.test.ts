/**
 * A master key (a staff holder with areas) is announced beside the credential: `master_key.issued` once it is
 * active, and `master_key.revoked` once it stops opening doors — revoked, expired, or failed after it was
 * issued (a lock lost it for good). A key that never became active was never announced, so is not revoked.
 */
import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../../src/machines/credential.ts';
import { at, issueEvent } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(credentialMachine, { id: 'c1', tenantId: 't1' });
const issue = issueEvent([1, 2], {
  holder: { kind: 'staff', ref: 's1' },
  areas: ['floor-1'],
  reservationId: null,
  retry: { maxAttempts: 1, baseDelayMs: 1000, maxDelayMs: 60_000 },
});
const issued = (n: number, operationId = `c1:d${n}:issue`, vendorRef = `pwd-${n}`) => ({
  type: 'effect.done.issueGrant',
  at: at(1),
  operationId,
  vendorRef,
});
const failedIssue = (operationId: string) => ({
  type: 'effect.failed.issueGrant',
  at: at(5),
  operationId,
  error: { code: 'CAPACITY', message: 'lock full', retryable: false },
});
const revoked = (operationId: string) => ({ type: 'effect.done.revokeGrant', at: at(4), operationId });
const published = (intents: { type: string; params?: unknown }[]) =>
  intents
    .filter((i) => i.type === 'publishEvent')
    .map((i) => {
      const p = i.params as { aggregate?: string; verb: string; data?: { reason?: string } };
      return `${p.aggregate ?? 'key_credential'}.${p.verb}${p.data?.reason ? `(${p.data.reason})` : ''}`;
    });

describe('credential: master key announcements', () => {
  it('master key: announced issued once active', () => {
    const o = spec.given(issue, issued(1)).when(issued(2)).then({ state: 'active' });
    expect(published(o.intents)).toContain('master_key.issued');
  });

  it('master key: one that fails after it was issued (a lock lost it for good) is announced revoked', () => {
    const lost = { type: 'credential.grantLost', at: at(3), lockDeviceId: 'd2', vendorRef: 'pwd-2' };
    const closing = [issue, issued(1), issued(2), lost, revoked('c1:d2:revoke')];
    const o = spec
      .given(...closing)
      .when(failedIssue('c1:d2:issue@1'))
      .then({ state: 'revoking' });
    expect(o.context.closeGoal).toBe('failed');
    const done = spec
      .given(...closing, failedIssue('c1:d2:issue@1'))
      .when(revoked('c1:d1:revoke'))
      .then({ state: 'failed' });
    expect(published(done.intents)).toEqual(['key_credential.failed', 'master_key.revoked(failed)']);
  });

  it('master key: one that never became active is not announced revoked when it fails', () => {
    const o = spec.given(issue, issued(1)).when(failedIssue('c1:d2:issue')).then({ state: 'revoking' });
    const done = spec
      .given(issue, issued(1), failedIssue('c1:d2:issue'))
      .when(revoked('c1:d1:revoke'))
      .then({ state: 'failed' });
    expect(o.context.closeGoal).toBe('failed');
    expect(published(done.intents)).toEqual(['key_credential.failed']);
  });
});
