/**
 * Every machine is total: in every state it can rest in, every event of its union meets a declared
 * transition — handled, deferred, or ignored with a reason. xstate passes an event up to the parent state
 * when no transition of the child is enabled, so a pair counts as declared only if, walking up from the
 * state, some node has an unguarded transition for the event (a guarded one alone lets some data fall
 * through unsaid). Transient states (an unguarded `always`) never rest and are skipped.
 */
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine, StateNode } from 'xstate';
import {
  credentialEventTypes,
  credentialMachine,
  grantEventTypes,
  grantMachine,
  reservationEventTypes,
  reservationMachine,
  staffEventTypes,
  staffMachine,
  vendorSwitchEventTypes,
  vendorSwitchMachine,
} from '../../../src/machines/index.ts';
import { lockDeviceEventTypes, lockDeviceMachine } from '../../../src/machines/lockDevice.ts';
import { propertyEventTypes, propertyMachine } from '../../../src/machines/property.ts';
import { isIgnore } from '../../../src/machines/totality.ts';

type AnyNode = StateNode<never, never>;
interface TransitionConfig {
  guard?: unknown;
  description?: string;
}

const machines: [string, AnyStateMachine, readonly string[]][] = [
  ['grant', grantMachine, grantEventTypes],
  ['credential', credentialMachine, credentialEventTypes],
  ['lockDevice', lockDeviceMachine, lockDeviceEventTypes],
  ['property', propertyMachine, propertyEventTypes],
  ['reservation', reservationMachine, reservationEventTypes],
  ['staff', staffMachine, staffEventTypes],
  ['vendorSwitch', vendorSwitchMachine, vendorSwitchEventTypes],
];

const asList = (t: unknown): TransitionConfig[] =>
  t === undefined ? [] : Array.isArray(t) ? (t as TransitionConfig[]) : [t as TransitionConfig];

/** The states an actor can rest in: atomic, not transient. */
function restingStates(node: AnyNode): AnyNode[] {
  const children = Object.values(node.states) as AnyNode[];
  if (children.length === 0) {
    const always = asList(node.config.always);
    const transient = always.length > 0 && always.some((t) => t.guard === undefined);
    return transient ? [] : [node];
  }
  return children.flatMap(restingStates);
}

/** How `node` (or an ancestor) declares `event`: 'handled', 'ignored', or undefined when it does not. */
function declared(node: AnyNode, event: string): 'handled' | 'ignored' | undefined {
  for (let n: AnyNode | undefined = node; n; n = n.parent as AnyNode | undefined) {
    const on = (n.config.on ?? {}) as Record<string, unknown>;
    const catchAll = asList(on[event]).find((t) => t.guard === undefined);
    if (catchAll) return isIgnore(catchAll) ? 'ignored' : 'handled';
  }
  return undefined;
}

describe('machines: totality', () => {
  for (const [name, machine, events] of machines) {
    it(`totality: ${name} declares every event in every state it rests in`, () => {
      const states = restingStates(machine.root as unknown as AnyNode);
      expect(states.length).toBeGreaterThan(1);
      const missing: string[] = [];
      for (const s of states) {
        for (const e of events) if (!declared(s, e)) missing.push(`${s.id} × ${e}`);
        // No catch-all descriptors: each event is declared by name.
        for (const key of Object.keys(s.config.on ?? {}))
          if (key.includes('*')) missing.push(`${s.id} uses the wildcard ${key}`);
      }
      expect(missing).toEqual([]);
    });

    it(`totality: ${name} declares only events of its union`, () => {
      const all: AnyNode[] = [];
      const walk = (n: AnyNode) => {
        all.push(n);
        for (const c of Object.values(n.states) as AnyNode[]) walk(c);
      };
      walk(machine.root as unknown as AnyNode);
      const unknown = all.flatMap((n) =>
        Object.keys(n.config.on ?? {})
          .filter((k) => !events.includes(k))
          .map((k) => `${n.id} × ${k}`),
      );
      expect(unknown).toEqual([]);
    });
  }
});
