/**
 * The staff actor as a decider: a shift's master keys are issued for its times, moved when the shift changes
 * (by stream order, not arrival), revoked at its end — an end that overtakes its start leaves nothing
 * issued — and a deactivation revokes everything the user holds, ahead of ordinary work, for good.
 */
import { describe, expect, it } from 'vitest';
import { type MessageIntent, staffMachine } from '../../../src/machines/index.ts';
import { issueEvent } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(staffMachine, { id: 's1', tenantId: 't1' });
const at = '2026-01-01T08:00:00.000Z';
const order = (seq: number) => ({ epoch: '2026-01-01T00:00:00.000Z', seq });
const started = (seq: number, shiftId = 'sh1', endsAt = '2026-01-01T16:00:00.000Z') => ({
  type: 'staff.shiftStarted',
  at,
  eventId: `e${seq}`,
  order: order(seq),
  shiftId,
  propertyId: 'p1',
  startsAt: '2026-01-01T08:00:00.000Z',
  endsAt,
  issues: [{ credentialId: `mk-${shiftId}`, event: issueEvent([1, 2, 3]) }],
});
const ended = (seq: number, shiftId = 'sh1') => ({
  type: 'staff.shiftEnded',
  at,
  eventId: `e${seq}`,
  order: order(seq),
  shiftId,
  propertyId: 'p1',
});
const deactivated = (seq: number) => ({
  type: 'staff.deactivated',
  at,
  eventId: `e${seq}`,
  order: order(seq),
});
const linked = (id: string) => ({
  type: 'staff.credentialLinked',
  at,
  credentialId: id,
  kind: 'pin',
  propertyId: 'p1',
});
const sent = (intents: { type: string; params: unknown }[]) =>
  intents.map((i) => {
    const m = i.params as MessageIntent;
    const e = m.event as { validUntil?: string; reason?: string; priority?: boolean };
    return [m.to.id, m.event.type, e.validUntil ?? e.reason ?? null, e.priority ?? false];
  });

describe('staff', () => {
  it("staff: a shift's start issues its master key for the shift's times", () => {
    const o = spec.given().when(started(1)).then({ state: 'active' });
    expect(sent(o.intents)).toEqual([['mk-sh1', 'credential.issue', '2026-01-01T16:00:00.000Z', false]]);
  });

  it('staff: the same shift started again with a later end moves its key; an older version changes nothing', () => {
    const later = spec.given(started(1)).when(started(3, 'sh1', '2026-01-01T18:00:00.000Z')).outcome;
    expect(sent(later.intents)).toEqual([['mk-sh1', 'credential.update', '2026-01-01T18:00:00.000Z', false]]);
    const stale = spec
      .given(started(1), started(3, 'sh1', '2026-01-01T18:00:00.000Z'))
      .when(started(2, 'sh1', '2026-01-01T12:00:00.000Z')).outcome;
    expect(stale.intents).toEqual([]);
  });

  it("staff: a shift's end revokes its key, once", () => {
    const o = spec.given(started(1)).when(ended(2)).outcome;
    expect(sent(o.intents)).toEqual([['mk-sh1', 'credential.revoke', 'shift_ended', false]]);
    expect(spec.given(started(1), ended(2)).when(ended(2)).outcome.intents).toEqual([]);
  });

  it('staff: an end that overtakes its start leaves nothing issued', () => {
    const o = spec.given(ended(2)).when(started(1)).outcome;
    expect(o.intents).toEqual([]);
  });

  it('staff: deactivation revokes every key, linked ones too, with priority; nothing after it is issued', () => {
    const o = spec
      .given(started(1), started(2, 'sh2'), linked('rest-1'))
      .when(deactivated(3))
      .then({ state: 'deactivated' });
    expect(sent(o.intents)).toEqual([
      ['mk-sh1', 'credential.revoke', 'user_deactivated', true],
      ['mk-sh2', 'credential.revoke', 'user_deactivated', true],
      ['rest-1', 'credential.revoke', 'user_deactivated', true],
    ]);
    expect(spec.given(deactivated(3)).when(started(4, 'sh3')).outcome.intents).toEqual([]);
    const late = spec.given(deactivated(3)).when(linked('rest-2')).outcome;
    expect(sent(late.intents)).toEqual([['rest-2', 'credential.revoke', 'user_deactivated', true]]);
  });

  it('staff: deactivation also revokes what the record holds of the user that never linked here (made before links)', () => {
    const o = spec
      .given(started(1))
      .when({ ...deactivated(2), credentialIds: ['rest-old', 'mk-sh1'] }).outcome;
    expect(sent(o.intents)).toEqual([
      ['mk-sh1', 'credential.revoke', 'user_deactivated', true],
      ['rest-old', 'credential.revoke', 'user_deactivated', true],
    ]);
  });

  it('staff: a redelivered platform event is applied once', () => {
    const o = spec.given(started(1)).when(started(1)).outcome;
    expect(o.intents).toEqual([]);
    expect(o.changed).toBe(false);
  });
});
