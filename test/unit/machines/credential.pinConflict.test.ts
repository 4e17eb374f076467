import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../../src/machines/credential.ts';
import { at, issueEvent } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(credentialMachine, { id: 'c1', tenantId: 't1' });
const issue = (spares: string[]) => issueEvent([1, 2], { secret: 'sealed-pin-0', spareSecrets: spares });
const duplicate = (operationId: string) => ({
  type: 'effect.failed.issueGrant',
  at: at(2),
  operationId,
  error: { code: 'DUPLICATE', message: '-3007 the same passcode already exists', retryable: false },
});
const done = (operationId: string, vendorRef: string) => ({
  type: 'effect.done.issueGrant',
  at: at(3),
  operationId,
  vendorRef,
});

describe('credential: a lock already holds the PIN', () => {
  it('credential: moves to the next spare PIN, re-issues the refused grant and replaces the one issued', () => {
    const o = spec
      .given(issue(['sealed-pin-1', 'sealed-pin-2']), done('c1:d2:issue', 'pwd-2'))
      .when(duplicate('c1:d1:issue'))
      .then({ state: 'issuing' });
    expect(o.context).toMatchObject({ secret: 'sealed-pin-1', spareSecrets: ['sealed-pin-2'], pinIndex: 1 });
    expect(o.intents.map((i) => i.params)).toEqual([
      expect.objectContaining({ intent: 'issueGrant', operationId: 'c1:d1:issue@1', secret: 'sealed-pin-1' }),
      expect.objectContaining({ intent: 'revokeGrant', operationId: 'c1:d2:revoke', vendorRef: 'pwd-2' }),
    ]);
    const after = spec
      .given(
        issue(['sealed-pin-1', 'sealed-pin-2']),
        done('c1:d2:issue', 'pwd-2'),
        duplicate('c1:d1:issue'),
        done('c1:d1:issue@1', 'pwd-1b'),
      )
      .when({ type: 'effect.done.revokeGrant', at: at(4), operationId: 'c1:d2:revoke' })
      .then({ state: 'issuing' });
    expect(after.intents[0]?.params).toMatchObject({ operationId: 'c1:d2:issue@1', secret: 'sealed-pin-1' });
    spec
      .given(
        issue(['sealed-pin-1', 'sealed-pin-2']),
        done('c1:d2:issue', 'pwd-2'),
        duplicate('c1:d1:issue'),
        done('c1:d1:issue@1', 'pwd-1b'),
        { type: 'effect.done.revokeGrant', at: at(4), operationId: 'c1:d2:revoke' },
      )
      .when(done('c1:d2:issue@1', 'pwd-2b'))
      .then({ state: 'active' });
  });

  it('credential: a grant in flight with the old PIN is replaced when it lands', () => {
    const o = spec
      .given(issue(['sealed-pin-1']), duplicate('c1:d1:issue'))
      .when(done('c1:d2:issue', 'pwd-2'))
      .then({ state: 'issuing' });
    expect(o.intents[0]?.params).toMatchObject({ intent: 'revokeGrant', vendorRef: 'pwd-2' });
  });

  it('credential: without a spare left, the grant fails and the credential with it', () => {
    const o = spec.given(issue([])).when(duplicate('c1:d1:issue')).then({ state: 'revoking' });
    expect(o.context.failure).toMatchObject({ code: 'DUPLICATE' });
  });
});
