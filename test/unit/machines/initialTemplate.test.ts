/**
 * `initialStep` gives what xstate's own `initialTransition` gives, for every actor kind's machine and for the
 * grant machine, whether it built the snapshot from a template (machines whose initial state depends on
 * nothing but the context) or ran xstate's initial macrostep (the grant's initial state routes by its input
 * and calls the vendor on entry).
 */
import { describe, expect, it } from 'vitest';
import { type AnyMachineSnapshot, type AnyStateMachine, initialTransition } from 'xstate';
import { actorKinds } from '../../../src/actors/actorKinds.ts';
import {
  defaultRetryPolicy,
  grantMachine,
  initialStep,
  persistedSnapshot,
} from '../../../src/machines/index.ts';

const shape = (machine: AnyStateMachine, s: AnyMachineSnapshot) => ({
  persisted: persistedSnapshot(machine, s),
  value: s.value,
  status: s.status,
  tags: [...s.tags],
});

function expectSameAsXstate(machine: AnyStateMachine, inputs: unknown[]) {
  for (const input of inputs) {
    const [ours, ourActions] = initialStep(machine, input);
    const [theirs, theirActions] = initialTransition(machine, input);
    expect(shape(machine, ours)).toEqual(shape(machine, theirs));
    expect(ourActions.map((a) => [a.type, a.params])).toEqual(
      theirActions
        .filter((a) => typeof a.type === 'string' && !a.type.startsWith('xstate.'))
        .map((a) => [a.type, a.params]),
    );
    // The snapshot answers as xstate's does: it knows its machine and its state.
    expect(ours.matches(theirs.value)).toBe(true);
    expect(ours.machine).toBe(machine);
  }
}

describe('initial snapshots', () => {
  it('initial: every actor kind starts as xstate would start it, input after input', () => {
    for (const kind of Object.values(actorKinds)) {
      expectSameAsXstate(kind.machine, [
        { id: `${kind.type}-1`, tenantId: 't1' },
        { id: `${kind.type}-2`, tenantId: 't2' },
        { id: `${kind.type}-1`, tenantId: 't1' },
      ]);
    }
  });

  it('initial: two snapshots from one template share no context, children or history', () => {
    const machine = actorKinds.credential.machine;
    const [a] = initialStep(machine, { id: 'c-a', tenantId: 't1' });
    const [b] = initialStep(machine, { id: 'c-b', tenantId: 't1' });
    expect(a.context).not.toBe(b.context);
    expect(a.children).not.toBe(b.children);
    expect((a as { historyValue?: object }).historyValue).not.toBe(
      (b as { historyValue?: object }).historyValue,
    );
    expect((a.context as { id: string }).id).toBe('c-a');
    expect((b.context as { id: string }).id).toBe('c-b');
  });

  it('initial: a grant, whose first state routes by its input, is never templated, whichever input comes first', () => {
    const base = {
      roomId: 'r1',
      lockDeviceId: 'l1',
      vendor: 'ttlock',
      vendorDeviceRef: 'd1',
      credentialId: 'c1',
      propertyId: 'p1',
      kind: 'pin',
      retry: defaultRetryPolicy,
    };
    const window = {
      secret: null,
      pinIndex: 0,
      validFrom: '2026-01-01T00:00:00.000Z',
      validUntil: '2026-01-02T00:00:00.000Z',
    };
    const closedNothingHeld = { ...base, lockDeviceId: 'l2', want: { ...window, open: false } };
    // First: a grant wanted closed with nothing held rests in `gone` with nothing to run (no entry action), which
    // a template made from it would hand to every later grant, open ones included.
    expect(initialStep(grantMachine, closedNothingHeld)[0].value).toBe('gone');
    expectSameAsXstate(grantMachine, [
      { ...base, want: { ...window, open: true } },
      closedNothingHeld,
      { ...base, want: { ...window, open: false }, mayExist: true },
      { ...base, lockDeviceId: 'l3', want: { ...window, open: true } },
    ]);
  });
});
