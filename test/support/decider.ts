/**
 * Decider-style specs over xstate's pure transitions: given(events).when(event).then({ state, intents }).
 * The snapshot round-trips through JSON between steps, as it does through PostgreSQL in the runtime.
 */

import { expect } from 'vitest';
import { type AnyStateMachine, initialTransition, transition } from 'xstate';

export interface Intent {
  type: string;
  params: unknown;
}

export interface Outcome {
  value: unknown;
  context: Record<string, unknown>;
  intents: Intent[];
  changed: boolean;
}

type AnyEvent = { type: string; [k: string]: unknown };

export function decider(machine: AnyStateMachine, input: unknown) {
  function run(events: readonly AnyEvent[]) {
    let [snapshot] = initialTransition(machine, input);
    let intents: Intent[] = [];
    let changed = false;
    for (const e of events) {
      const restored = machine.resolveState(
        JSON.parse(JSON.stringify(machine.getPersistedSnapshot(snapshot))),
      );
      const [next, actions] = transition(machine, restored, e);
      changed = next !== restored;
      snapshot = next;
      intents = actions
        .filter((a) => typeof a.type === 'string' && !a.type.startsWith('xstate.'))
        .map((a) => ({ type: a.type, params: a.params }));
    }
    return { snapshot, intents, changed };
  }
  return {
    given(...history: AnyEvent[]) {
      return {
        when(event: AnyEvent) {
          const { snapshot, intents, changed } = run([...history, event]);
          const outcome: Outcome = {
            value: snapshot.value,
            context: snapshot.context as Record<string, unknown>,
            intents,
            changed,
          };
          return {
            outcome,
            // The decider spec reads given/when/then.
            then(expected: { state?: unknown; intents?: unknown[] }) {
              if (expected.state !== undefined) expect(outcome.value).toEqual(expected.state);
              if (expected.intents !== undefined) expect(outcome.intents).toEqual(expected.intents);
              return outcome;
            },
            thenNothingHappened() {
              expect(outcome.changed).toBe(false);
              expect(outcome.intents).toEqual([]);
            },
          };
        },
      };
    },
  };
}
