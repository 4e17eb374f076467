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
  // Undecided until the first initial snapshot, then a template or null (xstate's whole algorithm each time).
  let template: AnyMachineSnapshot | null | undefined;
  const contextOf = machine.config.context;
  p = {
    initial(input) {
      collected = [];
      if (template && typeof contextOf === 'function') {
        const context = contextOf({ input, self, spawn: noSpawn } as Parameters<typeof contextOf>[0]);
        return [{ ...template, context, children: {}, historyValue: {} } as AnyMachineSnapshot, []];
      }
      const s = machine.getInitialSnapshot(scope as unknown as Scope, input);
      if (template === undefined) template = inputFree(s, collected) ? s : null;
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

const noSpawn = () => {
  throw new Error(
    'a context factory spawned: initial snapshots are templated only for machines that spawn nothing',
  );
};

/**
 * Whether a machine's initial snapshot differs from one input to the next only by its context: it ran no
 * action, and no state it rests in has an entry action, an eventless transition or an invocation (those could
 * read the context and take another way). The initial state is then fixed by the machine's `initial`s, and
 * the next initial snapshot is this one with the context factory's result: xstate's whole initial macrostep
 * (a pre-initial state, an init event, entry sets) was ~1.5% of the event-driven run's CPU.
 */
function inputFree(s: AnyMachineSnapshot, actions: readonly Collected[]): boolean {
  if (s.status !== 'active' || actions.length > 0) return false;
  if (Object.keys(s.children).length > 0) return false;
  const nodes = (s as AnyMachineSnapshot & { _nodes: readonly StateNodeShape[] })._nodes;
  return nodes.every((n) => n.entry.length === 0 && n.always === undefined && n.invoke.length === 0);
}

interface StateNodeShape {
  entry: readonly unknown[];
  always?: readonly unknown[];
  invoke: readonly unknown[];
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
