/**
 * xstate's pure `transition()` and `initialTransition()`, with the inert actor scope made once per machine
 * rather than on every call. xstate builds an actor for each call — and that actor computes the machine's
 * initial snapshot on construction (with no input: our context factories throw, and the error is caught) —
 * which was most of a transition's cost. The results are the same (`test/unit/machines/modelPaths.test.ts`
 * compares them on every edge it explores); transitions are synchronous, so one scope per machine cannot be
 * shared by two at once. Our machines spawn and invoke nothing, so the scope's system registers nothing.
 */
import { type AnyMachineSnapshot, type AnyStateMachine, createActor, type EventObject } from 'xstate';

interface Collected {
  type: string;
  params?: unknown;
}

interface Pure {
  initial(input: unknown): [AnyMachineSnapshot, Collected[]];
  step(snapshot: AnyMachineSnapshot, event: EventObject): [AnyMachineSnapshot, Collected[]];
}

const scopes = new WeakMap<AnyStateMachine, Pure>();

function pureOf(machine: AnyStateMachine): Pure {
  let p = scopes.get(machine);
  if (p) return p;
  const self = createActor(machine);
  let collected: Collected[] = [];
  const scope = {
    self,
    defer: () => {},
    id: '',
    logger: () => {},
    sessionId: '',
    stopChild: () => {},
    system: self.system,
    emit: () => {},
    actionExecutor: (a: Collected) => {
      collected.push(a);
    },
  };
  type Scope = Parameters<typeof machine.transition>[2];
  p = {
    initial(input) {
      collected = [];
      const s = machine.getInitialSnapshot(scope as unknown as Scope, input);
      return [s, collected];
    },
    step(snapshot, event) {
      collected = [];
      const s = machine.transition(snapshot, event, scope as unknown as Scope);
      return [s, collected];
    },
  };
  scopes.set(machine, p);
  return p;
}

/** The machine's initial snapshot for `input` and the actions it would run. Pure. */
export function initialStep<M extends AnyStateMachine>(
  machine: M,
  input: unknown,
): [ReturnType<M['resolveState']>, Collected[]] {
  return pureOf(machine).initial(input) as [ReturnType<M['resolveState']>, Collected[]];
}

/** The next snapshot of `snapshot` for `event`, and the actions it would run (none run). Pure. */
export function step<M extends AnyStateMachine>(
  machine: M,
  snapshot: AnyMachineSnapshot,
  event: EventObject,
): [ReturnType<M['resolveState']>, Collected[]] {
  return pureOf(machine).step(snapshot, event) as [ReturnType<M['resolveState']>, Collected[]];
}

/**
 * What xstate's `getPersistedSnapshot` returns, without its walk of the whole context looking for actor
 * references to replace (a credential's context holds every grant's: ~7% of the event-driven run's CPU). Our
 * machines spawn and invoke nothing, so no context holds a reference; a snapshot with children or history
 * values is left to xstate all the same. `persisted.test.ts` compares the two on every state the lifecycle
 * tests reach.
 */
export function persistedSnapshot(machine: AnyStateMachine, snapshot: AnyMachineSnapshot): unknown {
  const s = snapshot as AnyMachineSnapshot & { historyValue?: Record<string, unknown> };
  if (Object.keys(s.children).length > 0 || Object.keys(s.historyValue ?? {}).length > 0)
    return machine.getPersistedSnapshot(snapshot);
  const {
    _nodes,
    tags: _tags,
    machine: _machine,
    children: _children,
    context,
    can: _can,
    hasTag: _hasTag,
    matches: _matches,
    getMeta: _getMeta,
    toJSON: _toJSON,
    ...json
  } = s as AnyMachineSnapshot & Record<string, unknown>;
  return { ...json, context, children: {}, historyValue: {} };
}
