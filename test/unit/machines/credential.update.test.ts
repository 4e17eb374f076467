import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../../src/machines/credential.ts';
import { at, issueEvent } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(credentialMachine, { id: 'c1', tenantId: 't1' });
const issue = issueEvent([1, 2], { retry: { maxAttempts: 2, baseDelayMs: 1000, maxDelayMs: 60_000 } });
const issued = (n: number) => ({
  type: 'effect.done.issueGrant',
  at: at(1),
  operationId: `c1:d${n}:issue`,
  vendorRef: `pwd-${n}`,
});
const active = [issue, issued(1), issued(2)];
const update = (until = '2026-01-05T11:00:00.000Z') => ({
  type: 'credential.update',
  at: at(5),
  validFrom: '2026-01-01T14:00:00.000Z',
  validUntil: until,
});
const modified = (n: number, u = 1) => ({
  type: 'effect.done.modifyGrant',
  at: at(6),
  operationId: `c1:d${n}:modify@${u}`,
  vendorRef: `pwd-${n}`,
});
const modifyFailed = (n: number, code: string, retryable: boolean) => ({
  type: 'effect.failed.modifyGrant',
  at: at(6),
  operationId: `c1:d${n}:modify@1`,
  error: { code, message: 'vendor said no', retryable },
});

describe('credential: update', () => {
  it('credential: an update changes each grant in place and moves expiry', () => {
    const o = spec
      .given(...active)
      .when(update())
      .then({ state: 'updating' });
    expect(o.context.validUntil).toBe('2026-01-05T11:00:00.000Z');
    expect(
      o.intents.map((i) => [
        i.type,
        (i.params as { intent?: string; key?: string }).intent ?? (i.params as { key?: string }).key,
      ]),
    ).toEqual([
      ['scheduleTimer', 'expire'],
      ['callVendor', 'modifyGrant'],
      ['callVendor', 'modifyGrant'],
    ]);
    expect(o.intents[1]?.params).toMatchObject({
      operationId: 'c1:d1:modify@1',
      vendorRef: 'pwd-1',
      validUntil: '2026-01-05T11:00:00.000Z',
    });
  });

  it('credential: back to active with one updated event when every grant is changed', () => {
    const o = spec
      .given(...active, update(), modified(1))
      .when(modified(2))
      .then({ state: 'active' });
    expect(o.intents).toEqual([
      {
        type: 'publishEvent',
        params: {
          verb: 'updated',
          data: {
            validFrom: '2026-01-01T14:00:00.000Z',
            validUntil: '2026-01-05T11:00:00.000Z',
            grants: [
              { lockDeviceId: 'd1', vendor: 'ttlock', vendorRef: 'pwd-1' },
              { lockDeviceId: 'd2', vendor: 'ttlock', vendorRef: 'pwd-2' },
            ],
          },
        },
      },
    ]);
  });

  it('credential: the same window again changes nothing', () => {
    spec
      .given(...active)
      .when(update('2026-01-03T11:00:00.000Z'))
      .thenNothingHappened();
  });

  it('credential: a vendor that cannot change in place gets the grant revoked and issued again', () => {
    const revoking = spec
      .given(...active, update(), modified(2))
      .when(modifyFailed(1, 'REISSUE_REQUIRED', false))
      .then({ state: 'updating' });
    expect(revoking.intents[0]?.params).toMatchObject({
      intent: 'revokeGrant',
      operationId: 'c1:d1:revoke',
      vendorRef: 'pwd-1',
    });
    const reissuing = spec
      .given(...active, update(), modified(2), modifyFailed(1, 'REISSUE_REQUIRED', false))
      .when({ type: 'effect.done.revokeGrant', at: at(7), operationId: 'c1:d1:revoke' })
      .then({ state: 'updating' });
    expect(reissuing.intents[0]?.params).toMatchObject({
      intent: 'issueGrant',
      operationId: 'c1:d1:issue@1',
      validUntil: '2026-01-05T11:00:00.000Z',
      secret: 'v1.enc',
    });
    const o = spec
      .given(...active, update(), modified(2), modifyFailed(1, 'REISSUE_REQUIRED', false), {
        type: 'effect.done.revokeGrant',
        at: at(7),
        operationId: 'c1:d1:revoke',
      })
      .when({ type: 'effect.done.issueGrant', at: at(8), operationId: 'c1:d1:issue@1', vendorRef: 'pwd-9' })
      .then({ state: 'active' });
    expect(o.intents[0]?.params).toMatchObject({ verb: 'updated' });
  });

  it('credential: a retryable failure retries the change on a timer', () => {
    const o = spec
      .given(...active, update())
      .when(modifyFailed(1, 'OFFLINE', true))
      .then({ state: 'updating' });
    expect(o.intents.map((i) => i.type)).toEqual(['scheduleTimer']);
    const retry = spec
      .given(...active, update(), modifyFailed(1, 'OFFLINE', true))
      .when({ type: 'timer.retryGrant', at: at(9), lockDeviceId: 'd1' })
      .then({ state: 'updating' });
    expect(retry.intents[0]?.params).toMatchObject({ intent: 'modifyGrant', attempt: 2 });
  });

  it('credential: a window arriving during an update is applied to each grant as soon as its change lands', () => {
    const later = update('2026-01-07T11:00:00.000Z');
    const calls = (o: { intents: { type: string; params: unknown }[] }) =>
      o.intents
        .filter((i) => i.type === 'callVendor')
        .map((i) => (i.params as { operationId: string }).operationId);
    const first = spec
      .given(...active, update(), later)
      .when(modified(1))
      .then({ state: 'updating' });
    expect(first.context.validUntil).toBe('2026-01-07T11:00:00.000Z');
    expect(calls(first)).toEqual(['c1:d1:modify@2']);
    const second = spec
      .given(...active, update(), later, modified(1))
      .when(modified(2))
      .then({ state: 'updating' });
    expect(calls(second)).toEqual(['c1:d2:modify@2']);
    expect(second.intents[0]?.params).toMatchObject({ validUntil: '2026-01-07T11:00:00.000Z' });
  });

  it('credential: a revoke during an update waits for the change in flight, then revokes', () => {
    const o = spec
      .given(...active, update())
      .when({ type: 'credential.revoke', at: at(7), reason: 'cancelled' });
    o.then({ state: 'revoking' });
    expect(o.outcome.intents.filter((i) => i.type === 'callVendor')).toEqual([]);
    const after = spec
      .given(...active, update(), { type: 'credential.revoke', at: at(7), reason: 'cancelled' })
      .when(modified(1))
      .then({ state: 'revoking' });
    expect(after.intents[0]?.params).toMatchObject({ intent: 'revokeGrant', operationId: 'c1:d1:revoke' });
  });

  it('credential: a REST window older than the one applied (it took a longer way: a term ending, a resend) changes nothing', () => {
    const later = { ...update('2026-01-04T11:00:00.000Z'), at: at(9) };
    const earlier = { ...update('2026-01-06T11:00:00.000Z'), at: at(8) };
    const o = spec
      .given(...active, later, modified(1), modified(2))
      .when(earlier)
      .then({ state: 'active' });
    expect(o.context.validUntil).toBe('2026-01-04T11:00:00.000Z');
    expect(o.intents).toEqual([]);
    // The same instant is not older: two windows asked at one instant apply in arrival order.
    const same = { ...update('2026-01-06T11:00:00.000Z'), at: at(9) };
    const p = spec
      .given(...active, later, modified(1), modified(2))
      .when(same)
      .then({ state: 'updating' });
    expect(p.context.validUntil).toBe('2026-01-06T11:00:00.000Z');
  });
});
