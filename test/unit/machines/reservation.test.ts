/**
 * The reservation actor orders the platform's events by their place in the platform's stream, whatever
 * order they arrive in (several processes forward them): its credentials end with the window of the latest
 * dates and are revoked by the end, each told once. A property test delivers every permutation of a
 * reservation's events, with duplicates, and compares what each credential is told with the stream order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import {
  type MessageIntent,
  type ReservationEvent,
  reservationMachine,
} from '../../../src/machines/index.ts';
import { issueEvent } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(reservationMachine, { id: 'r1', tenantId: 't1' });
const at = '2026-01-01T10:00:00.000Z';
const order = (seq: number) => ({ epoch: '2026-01-01T00:00:00.000Z', seq });
const confirmed = (seq = 1) => ({
  type: 'reservation.confirmed',
  at,
  eventId: `e${seq}`,
  order: order(seq),
  propertyId: 'p1',
  checkIn: '2026-01-10T14:00:00.000Z',
  checkOut: '2026-01-12T11:00:00.000Z',
  issues: [{ credentialId: 'c-pin', event: issueEvent([1]) }],
});
const dates = (seq: number, checkOut: string) => ({
  type: 'reservation.datesChanged',
  at,
  eventId: `e${seq}`,
  order: order(seq),
  checkIn: '2026-01-10T14:00:00.000Z',
  checkOut,
});
const ended = (seq: number) => ({
  type: 'reservation.ended',
  at,
  eventId: `e${seq}`,
  order: order(seq),
  reason: 'checked_out',
});
const linked = (id: string) => ({ type: 'reservation.credentialLinked', at, credentialId: id, kind: 'pin' });
const sent = (intents: { type: string; params: unknown }[]) =>
  intents.map((i) => {
    const m = i.params as MessageIntent;
    return [m.to.id, m.event.type, (m.event as { validUntil?: string }).validUntil ?? null];
  });

const roomsChanged = (seq: number, room = 'r9') => ({
  type: 'reservation.roomsChanged',
  at,
  eventId: `rooms${seq}`,
  order: order(seq),
  rooms: [room],
  plans: {
    pin: {
      targets: [{ roomId: room, lockDeviceId: `d-${room}`, vendor: 'ttlock', vendorDeviceRef: '9' }],
      unresolved: [],
    },
  },
});
const told = (intents: { type: string; params: unknown }[]) =>
  intents.map((i) => {
    const m = i.params as MessageIntent;
    return [m.to.id, m.event.type, (m.event as { seq?: number }).seq ?? null];
  });

describe('reservation', () => {
  it('reservation: confirmed issues each prepared credential with its window, numbered', () => {
    const o = spec.given().when(confirmed()).then({ state: 'confirmed' });
    expect(o.intents).toMatchObject([
      {
        type: 'sendMessage',
        params: {
          to: { type: 'credential', id: 'c-pin' },
          event: { type: 'credential.issue', validUntil: '2026-01-12T11:00:00.000Z', windowSeq: 1 },
        },
      },
    ]);
  });

  it('reservation: dates that overtook the confirmation are the window it issues with', () => {
    const o = spec
      .given(dates(2, '2026-01-14T11:00:00.000Z'))
      .when(confirmed(1))
      .then({ state: 'confirmed' });
    expect(sent(o.intents)).toEqual([['c-pin', 'credential.issue', '2026-01-14T11:00:00.000Z']]);
  });

  it('reservation: older dates arriving after newer ones are recorded and change nothing', () => {
    const o = spec
      .given(confirmed(1), dates(3, '2026-01-14T11:00:00.000Z'))
      .when(dates(2, '2026-01-13T11:00:00.000Z'))
      .then({ state: 'confirmed', intents: [] });
    expect(o.context.checkOut).toBe('2026-01-14T11:00:00.000Z');
    expect(o.context.seen).toContain('e2');
  });

  it('reservation: an end that overtook the confirmation leaves nothing issued', () => {
    spec.given(ended(3)).when(confirmed(1)).then({ state: 'ended', intents: [] });
  });

  it('reservation: a credential linked after the end is revoked at once', () => {
    const o = spec.given(confirmed(1), ended(2)).when(linked('c-rest')).then({ state: 'ended' });
    expect(sent(o.intents)).toEqual([['c-rest', 'credential.revoke', null]]);
  });

  it('reservation: a credential linked after new dates gets them, numbered', () => {
    const o = spec
      .given(confirmed(1), dates(2, '2026-01-14T11:00:00.000Z'))
      .when(linked('c-rest'))
      .then({ state: 'confirmed' });
    expect(o.intents).toMatchObject([
      {
        type: 'sendMessage',
        params: {
          to: { id: 'c-rest' },
          event: { type: 'credential.update', validUntil: '2026-01-14T11:00:00.000Z', seq: 2 },
        },
      },
    ]);
  });

  it('reservation: a credential linked before the confirmation follows the confirmed stay', () => {
    const o = spec.given(linked('c-rest')).when(confirmed(1)).then({ state: 'confirmed' });
    expect(sent(o.intents)).toEqual([
      ['c-rest', 'credential.update', '2026-01-12T11:00:00.000Z'],
      ['c-pin', 'credential.issue', '2026-01-12T11:00:00.000Z'],
    ]);
  });

  it('reservation: a redelivered platform event changes nothing', () => {
    spec.given(confirmed(1)).when(confirmed(1)).thenNothingHappened();
  });

  it('property: any arrival order gives every credential the latest window and one revoke at the end', () => {
    const events: ReservationEvent[] = [
      confirmed(1),
      dates(2, '2026-01-13T11:00:00.000Z'),
      dates(3, '2026-01-15T11:00:00.000Z'),
      ended(4),
    ] as ReservationEvent[];
    fc.assert(
      fc.property(
        fc.shuffledSubarray([0, 1, 2, 3, 0, 1, 2], { minLength: 7, maxLength: 7 }),
        fc.boolean(),
        (arrival, withEnd) => {
          let [s] = initialTransition(reservationMachine, { id: 'r1', tenantId: 't1' });
          // What each credential is told, in the order it is told (messages to one credential are ordered by
          // the credential's own checks: issue before update, higher window numbers after lower ones).
          const told: MessageIntent[] = [];
          for (const i of arrival) {
            const e = events[i]!;
            if (!withEnd && e.type === 'reservation.ended') continue;
            const [next, actions] = transition(reservationMachine, s, e);
            s = next;
            for (const a of actions) if (a.type === 'sendMessage') told.push(a.params as MessageIntent);
          }
          const issues = told.filter((m) => m.event.type === 'credential.issue');
          const updates = told.filter((m) => m.event.type === 'credential.update');
          const revokes = told.filter((m) => m.event.type === 'credential.revoke');
          const sawEndFirst = withEnd && arrival.indexOf(3) < arrival.indexOf(0);
          if (sawEndFirst) {
            expect(issues).toEqual([]);
            return;
          }
          expect(issues).toHaveLength(1);
          expect(revokes).toHaveLength(withEnd ? 1 : 0);
          // Ended, the windows no longer matter. Otherwise the credential ends with the window of the latest
          // dates in the stream: the issue's, or the update with the highest number (what it applies last).
          if (withEnd) return;
          const last = [...issues, ...updates]
            .sort((a, b) => (numberOf(a) ?? 0) - (numberOf(b) ?? 0))
            .at(-1)!;
          expect(last.event.validUntil).toBe('2026-01-15T11:00:00.000Z');
          // Numbers only grow: a credential can tell every later message from an earlier one.
          const numbers = [...issues, ...updates].map(numberOf);
          expect(new Set(numbers).size).toBe(numbers.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reservation: new rooms go to every credential, numbered with the windows; a credential linked later gets them too', () => {
    const o = spec.given(confirmed(1)).when(roomsChanged(2)).then({ state: 'confirmed' });
    expect(told(o.intents)).toEqual([['c-pin', 'credential.changeRooms', 2]]);
    const l = spec.given(confirmed(1), roomsChanged(2)).when(linked('c-rest')).outcome;
    expect(told(l.intents).map((x) => x[1])).toEqual(['credential.update', 'credential.changeRooms']);
    // A change the stream places before the confirmation is older than its rooms: nothing moves.
    expect(spec.given(confirmed(3)).when(roomsChanged(2)).outcome.intents).toEqual([]);
  });

  it('reservation: a room change that overtook its confirmation follows the issue', () => {
    const o = spec.given(roomsChanged(2)).when(confirmed(1)).then({ state: 'confirmed' });
    expect(told(o.intents).map((x) => [x[0], x[1]])).toEqual([
      ['c-pin', 'credential.issue'],
      ['c-pin', 'credential.changeRooms'],
    ]);
  });
});

function numberOf(m: MessageIntent): number | null {
  const e = m.event as { windowSeq?: number | null; seq?: number | null };
  return e.windowSeq ?? e.seq ?? null;
}
