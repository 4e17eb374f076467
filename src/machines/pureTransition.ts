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
