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
  // Decided from the machine's definition; set by the first initial snapshot when the definition allows it.
  const templatable = startsFixed(machine);
  let template: AnyMachineSnapshot | null = null;
  const contextOf = machine.config.context;
  p = {
    initial(input) {
      collected = [];
      if (template && typeof contextOf === 'function') {
        let context: unknown;
        try {
          context = contextOf({ input, self, spawn: noSpawn } as Parameters<typeof contextOf>[0]);
        } catch {
          // xstate makes an errored snapshot of a factory that throws: let it.
          return [machine.getInitialSnapshot(scope as unknown as Scope, input), collected];
        }
        return [{ ...template, context, children: {}, historyValue: {} } as AnyMachineSnapshot, []];
      }
      const s = machine.getInitialSnapshot(scope as unknown as Scope, input);
      if (templatable && s.status === 'active') template = s;
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

/**
 * Whether a machine starts in the same states, running nothing, whatever its input. Read from the definition:
 * from the root down each `initial` (every region of a parallel state), no node may have an entry action, an
 * eventless transition (it could route by the context) or an invocation, and no initial transition may have
 * actions. The first initial snapshot is then a template: the next is it with the context factory's result,
 * instead of xstate's whole initial macrostep (a pre-initial state, an init event, entry sets: ~1.5% of the
 * event-driven run's CPU).
 */
function startsFixed(machine: AnyStateMachine): boolean {
  if (typeof machine.config.context !== 'function') return false;
  const visit = (n: StateNodeShape): boolean => {
    if (n.entry.length > 0 || n.always !== undefined || n.invoke.length > 0) return false;
    if (n.type === 'atomic') return true;
    if (n.type === 'parallel') return Object.values(n.states).every(visit);
    if (n.type !== 'compound') return false; // final or history: not a resting start
    const first = n.initial;
    const target = first.target[0];
    return first.actions.length === 0 && first.target.length === 1 && target !== undefined && visit(target);
  };
  return visit(machine.root as unknown as StateNodeShape);
}

const noSpawn = () => {
  throw new Error(
    'a context factory spawned: initial snapshots are templated only for machines that spawn nothing',
  );
};

interface StateNodeShape {
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  entry: readonly unknown[];
  always?: readonly unknown[];
  invoke: readonly unknown[];
  states: Record<string, StateNodeShape>;
  initial: { target: readonly StateNodeShape[]; actions: readonly unknown[] };
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
