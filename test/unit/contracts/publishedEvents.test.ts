/**
 * The published-event schemas and their check: a valid event passes; a missing, mistyped or undeclared field
 * (a secret, say) is named; a subject without a schema is refused; and under LOCK_STRICT_EVENTS=1, which
 * vitest.config.ts sets for every test, `buildCommit` throws on such an event, naming its subject.
 */
import { describe, expect, it, vi } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { actorKinds } from '../../../src/actors/index.ts';
import { buildCommit, type TransitionAction } from '../../../src/actors/commit.ts';
import {
  publishedEventName,
  publishedEventProblem,
  publishedEventSchemas,
  strictEvents,
  vendorSwitchStatuses,
} from '../../../src/contracts/index.ts';
import { type LockDeviceEvent, lockDeviceMachine, vendorSwitchMachine } from '../../../src/machines/index.ts';

const issued = {
  eventId: '0b5a4c1e-6d3f-5a2b-9c8d-7e6f5a4b3c2d',
  occurredAt: '2026-01-01T10:00:00.000Z',
  tenantId: 't1',
  propertyId: 'p1',
  aggregateId: 'c1',
  version: 3,
  data: {
    status: 'active',
    validFrom: '2026-01-01T14:00:00.000Z',
    validUntil: '2026-01-03T11:00:00.000Z',
    grants: [{ lockDeviceId: 'd1', vendor: 'ttlock', vendorRef: '123' }],
  },
};
const subject = 'melmastoon.lock.key_credential.issued.v1';

describe('published events', () => {
  it('published events: a subject names its schema by aggregate and verb, v1 only', () => {
    expect(publishedEventName(subject)).toBe('key_credential.issued');
    expect(publishedEventName('tabc.melmastoon.lock.lock_device.registered.v1')).toBe(
      'lock_device.registered',
    );
    expect(publishedEventName('melmastoon.lock.key_credential.issued.v2')).toBeNull();
    expect(Object.keys(publishedEventSchemas)).toContain('key_credential.revoke_stalled');
  });

  it('published events: a valid event passes', () => {
    expect(publishedEventProblem(subject, issued)).toBeNull();
  });

  it('published events: a missing, mistyped or undeclared field is named', () => {
    const { validFrom: _gone, ...withoutFrom } = issued.data;
    expect(publishedEventProblem(subject, { ...issued, data: withoutFrom })).toMatch(/validFrom/);
    expect(publishedEventProblem(subject, { ...issued, version: '3' })).toMatch(/^\/version/);
    expect(publishedEventProblem(subject, { ...issued, data: { ...issued.data, status: 'gone' } })).toMatch(
      /^\/data\/status/,
    );
    // The producer's check is closed: nothing leaves that no schema declares.
    expect(publishedEventProblem(subject, { ...issued, data: { ...issued.data, pin: '1234' } })).toBe(
      '/data/pin: not in the schema',
    );
  });

  it('published events: a subject with no schema is refused', () => {
    expect(publishedEventProblem('melmastoon.lock.key_credential.vanished.v1', issued)).toMatch(
      /no published-event schema/,
    );
    expect(publishedEventProblem('melmastoon.lock.key_credential.issued.v2', issued)).toMatch(
      /no published-event schema/,
    );
  });

  it("published events: a vendor switch's statuses are its machine's states", () => {
    expect([...vendorSwitchStatuses].sort()).toEqual(
      Object.keys(vendorSwitchMachine.config.states ?? {}).sort(),
    );
  });
});

describe('published events: strict commits', () => {
  const register: LockDeviceEvent = {
    type: 'lockDevice.register',
    at: '2026-01-01T10:00:00.000Z',
    propertyId: 'p1',
    roomId: '101',
    vendor: 'ttlock',
    vendorDeviceRef: '7001',
    areas: [],
  };
  const commit = (actions: readonly TransitionAction[]) => {
    const [previous] = initialTransition(lockDeviceMachine, { id: 'd1', tenantId: 't1' });
    const [next] = transition(lockDeviceMachine, previous, register);
    return buildCommit({
      kind: actorKinds.lockDevice,
      tenantId: 't1',
      actorId: 'd1',
      partition: 0,
      fence: 1n,
      previous,
      next,
      previousVersion: 0,
      seq: 1,
      epoch: 'e',
      consumed: {},
      msgId: 'm1',
      event: register,
      actions,
      eventsRoot: 'tx.melmastoon.lock',
      now: new Date('2026-01-01T10:00:00.000Z'),
    });
  };

  it('published events: every test runs strict (vitest.config.ts)', () => {
    expect(strictEvents).toBe(true);
  });

  it("published events: a machine's event is committed as its schema says", () => {
    const [previous] = initialTransition(lockDeviceMachine, { id: 'd1', tenantId: 't1' });
    const [, actions] = transition(lockDeviceMachine, previous, register);
    const c = commit(actions);
    expect(c.outbox.map((o) => o.subject)).toEqual(['tx.melmastoon.lock.lock_device.registered.v1']);
  });

  it('published events: an event off its schema throws, naming the subject and the field', () => {
    // The check also says it on stderr (a throw inside a running actor surfaces as a timeout): kept quiet here.
    const stderr = vi.spyOn(console, 'error').mockImplementation(() => {});
    const publish = (verb: string, data: Record<string, unknown>) => [
      { type: 'publishEvent', params: { verb, data } },
    ];
    expect(() =>
      commit(
        publish('registered', { roomId: '101', vendor: 'ttlock', vendorDeviceRef: '7001', secret: 'x' }),
      ),
    ).toThrow(
      'published event tx.melmastoon.lock.lock_device.registered.v1 does not match its schema: /data/secret',
    );
    expect(() => commit(publish('exploded', {}))).toThrow(
      /lock_device\.exploded\.v1.*no published-event schema/,
    );
    expect(stderr).toHaveBeenCalledTimes(2);
    stderr.mockRestore();
  });
});
