import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../../src/machines/credential.ts';
import { grantStates, issueEvent, revoked } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(credentialMachine, { id: 'c1', tenantId: 't1' });
// Three attempts, 1 s doubling up to a minute: what the retry cases below count on.
const issue = (locks = [1, 2], extra: Record<string, unknown> = {}) =>
  issueEvent(locks, { retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 60_000 }, ...extra });
const done = (n: number, at = '2026-01-01T10:00:01.000Z') => ({
  type: 'effect.done.issueGrant',
  at,
  operationId: `c1:d${n}:issue`,
  vendorRef: `pwd-${n}`,
});
const failed = (n: number, retryable: boolean, at = '2026-01-01T10:00:01.000Z') => ({
  type: 'effect.failed.issueGrant',
  at,
  operationId: `c1:d${n}:issue`,
  error: { code: retryable ? 'OFFLINE' : 'CAPACITY', message: 'vendor said no', retryable },
});

describe('credential: issue', () => {
  it('credential: issuing emits one issue intent per grant and a requested event', () => {
    const o = spec.given().when(issue()).then({ state: 'issuing' });
    // Expiry is armed at once: a stay that ends while its issue is still retrying is closed all the same.
    expect(o.intents.map((i) => i.type)).toEqual([
      'publishEvent',
      'scheduleTimer',
      'callVendor',
      'callVendor',
    ]);
    expect(o.intents[1]?.params).toMatchObject({ key: 'expire', dueAt: '2026-01-03T11:00:00.000Z' });
    expect(o.intents[2]?.params).toMatchObject({
      intent: 'issueGrant',
      operationId: 'c1:d1:issue',
      vendorDeviceRef: '1',
      secret: 'v1.enc',
      attempt: 1,
    });
  });

  it('credential: becomes active when every grant is issued, publishing issued with its window', () => {
    const o = spec.given(issue(), done(1)).when(done(2)).then({ state: 'active' });
    expect(o.intents).toEqual([
      {
        type: 'publishEvent',
        params: {
          verb: 'issued',
          data: {
            validFrom: '2026-01-01T14:00:00.000Z',
            validUntil: '2026-01-03T11:00:00.000Z',
            grants: [
              { lockDeviceId: 'd1', vendor: 'ttlock', vendorRef: 'pwd-1' },
              { lockDeviceId: 'd2', vendor: 'ttlock', vendorRef: 'pwd-2' },
            ],
          },
        },
      },
    ]);
  });

  it('credential: a repeated issue command changes nothing', () => {
    spec.given(issue()).when(issue()).thenNothingHappened();
  });

  it('credential: a duplicate effect outcome changes nothing', () => {
    spec.given(issue(), done(1)).when(done(1)).thenNothingHappened();
  });

  it('credential: a retryable failure waits on a durable timer with backoff, then retries', () => {
    const waiting = spec
      .given(issue())
      .when(failed(1, true))
      .then({
        state: 'issuing',
        intents: [
          {
            type: 'scheduleTimer',
            params: {
              key: 'grant:d1',
              dueAt: '2026-01-01T10:00:02.000Z',
              event: { type: 'timer.retryGrant', lockDeviceId: 'd1', token: 1 },
            },
          },
        ],
      });
    expect(grantStates(waiting.context)).toEqual(['issueRetryWait', 'issuing']);
    const retried = spec
      .given(issue(), failed(1, true))
      .when({ type: 'timer.retryGrant', at: '2026-01-01T10:00:02.000Z', lockDeviceId: 'd1', token: 1 });
    expect(retried.outcome.intents).toMatchObject([
      { type: 'callVendor', params: { operationId: 'c1:d1:issue', attempt: 2 } },
    ]);
  });

  it('credential: the second retry waits twice as long', () => {
    const o = spec
      .given(issue(), failed(1, true), {
        type: 'timer.retryGrant',
        at: '2026-01-01T10:00:02.000Z',
        lockDeviceId: 'd1',
        token: 1,
      })
      .when(failed(1, true, '2026-01-01T10:00:03.000Z'));
    expect(o.outcome.intents).toMatchObject([
      { type: 'scheduleTimer', params: { dueAt: '2026-01-01T10:00:05.000Z' } },
    ]);
  });

  it('credential: exhausting retries closes it as failed: what may exist is revoked, failed is published once all is gone', () => {
    const history = [
      issue(),
      done(2),
      failed(1, true),
      { type: 'timer.retryGrant', at: '2026-01-01T10:00:02.000Z', lockDeviceId: 'd1', token: 1 },
      failed(1, true),
      { type: 'timer.retryGrant', at: '2026-01-01T10:00:05.000Z', lockDeviceId: 'd1', token: 2 },
    ];
    const o = spec.given(...history).when(failed(1, true, '2026-01-01T10:00:06.000Z')).outcome;
    expect(o.value).toBe('revoking');
    expect(o.context.failure).toEqual({ code: 'OFFLINE', reason: 'vendor said no' });
    const types = o.intents.map(
      (i) =>
        `${i.type}:${(i.params as { intent?: string; verb?: string }).intent ?? (i.params as { verb?: string }).verb ?? ''}`,
    );
    // The failed grant is looked up by its operation too: a timed-out attempt may have made it.
    expect(types).toEqual(['cancelTimer:', 'callVendor:revokeGrant', 'callVendor:revokeGrant']);
    const revokes = o.intents.filter((i) => i.type === 'callVendor');
    const gone = spec.given(
      ...history,
      failed(1, true, '2026-01-01T10:00:06.000Z'),
      revoked(revokes[0]!.params),
    );
    const end = gone.when(revoked(revokes[1]!.params)).then({ state: 'failed' });
    expect(end.intents).toEqual([
      {
        type: 'publishEvent',
        params: { verb: 'failed', data: { failure: { code: 'OFFLINE', reason: 'vendor said no' } } },
      },
    ]);
  });

  it('credential: a refusal on the first attempt fails at once: nothing can exist at the vendor', () => {
    const o = spec
      .given(issue([1]))
      .when(failed(1, false))
      .then({ state: 'failed' });
    expect(o.context.failure).toMatchObject({ code: 'CAPACITY' });
    expect(o.intents.filter((i) => i.type === 'callVendor')).toEqual([]);
  });

  it('credential: a room without a lock fails it immediately with NO_LOCK_FOR_ROOM', () => {
    const o = spec
      .given()
      .when(issue([], { rooms: ['r9'], unresolved: [{ roomId: 'r9', code: 'NO_LOCK_FOR_ROOM' }] }))
      .then({ state: 'failed' });
    expect(o.context.failure).toMatchObject({ code: 'NO_LOCK_FOR_ROOM' });
    expect(o.intents.map((i) => (i.params as { verb: string }).verb)).toEqual(['requested', 'failed']);
  });
});
