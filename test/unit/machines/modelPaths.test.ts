/**
 * Model-based coverage with xstate's graph utilities: from the shortest path to every (abstracted) state
 * of a machine, every event the model can send is applied. Over all those edges: every state the machine
 * can rest in is reached, every transition it declares (other than a declared ignore) fires at least once,
 * the structural invariants hold after every step, and a snapshot restored from its JSON makes the same
 * step as the live one (the runtime only ever steps restored snapshots).
 */
import { describe, expect, it } from 'vitest';
import {
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyTransitionDefinition,
  type EventObject,
  transition,
} from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  credentialMachine,
  grantMachine,
  persistedSnapshot,
  reservationMachine,
  step,
} from '../../../src/machines/index.ts';
import type { MessageIntent } from '../../../src/machines/index.ts';
import { isIgnore } from '../../../src/machines/totality.ts';
import { issueEvent } from '../../support/credentialEvents.ts';

const at = '2026-01-02T00:00:00.000Z';
type Ev = EventObject & Record<string, unknown>;

interface Model {
  machine: AnyStateMachine;
  input: unknown;
  /** What can happen next, given the state. */
  events(s: AnyMachineSnapshot): Ev[];
  /** The abstraction that bounds the search (what matters to the machine's decisions). */
  abstract(s: AnyMachineSnapshot): unknown;
  /** Problems with a state reached by a step, or none. */
  invariants(s: AnyMachineSnapshot, intents: { type: string }[], before: AnyMachineSnapshot): string[];
  /** The declared transitions this model must fire (default: all; a second model may cover the rest). */
  covers?(key: string): boolean;
  /** A model of one part of the machine's life: it need not reach every state. */
  partial?: boolean;
}

/** The vendor's possible answers to an operation in flight, and the credential's other inputs to a grant. */
function answers(op: { name: string; id: string; attempt: number } | null): Ev[] {
  if (!op) return [];
  const n = `${op.name}Grant`;
  const base = { at, operationId: op.id, attempt: op.attempt };
  return [
    { type: `effect.done.${n}`, ...base, vendorRef: 'v1' },
    ...(
      [
        ['OFFLINE', true],
        ['INVALID', false],
        ['DUPLICATE', false],
        ['NOT_FOUND', false],
        ['REISSUE_REQUIRED', false],
      ] as const
    ).map(([code, retryable]) => ({
      type: `effect.failed.${n}`,
      ...base,
      error: { code, message: code, retryable },
    })),
    // A late answer to an earlier attempt: stale.
    { type: `effect.done.${n}`, ...base, attempt: op.attempt - 1, vendorRef: 'v0' },
  ];
}

const grantOf = (s: AnyMachineSnapshot) => s.context as Record<string, never> & GrantCtx;
interface GrantCtx {
  op: { name: string; id: string; attempt: number; params: { pinIndex: number; validUntil: string } } | null;
  want: { open: boolean; pinIndex: number; validUntil: string };
  held: { validUntil: string; pinIndex: number } | null;
  timerToken: number;
  vendorRef: string | null;
  mayExist: boolean;
  mustReplace: boolean;
  stalled: boolean;
}
const abstractGrant = (value: unknown, c: GrantCtx) => [
  value,
  c.want.open,
  c.want.pinIndex,
  c.want.validUntil,
  c.held?.validUntil,
  c.held?.pinIndex,
  c.mayExist,
  c.mustReplace,
  c.stalled,
  // Past the limits (2 here) every attempt behaves alike.
  c.op && [c.op.name, Math.min(c.op.attempt, 3), c.op.params.pinIndex, c.op.params.validUntil],
];

function grantInputs(c: GrantCtx): Ev[] {
  return [
    ...answers(c.op),
    { type: 'timer.retryGrant', at, lockDeviceId: 'd1', token: c.timerToken },
    { type: 'timer.retryGrant', at, lockDeviceId: 'd1', token: c.timerToken - 1 },
  ];
}

const grantModel: Model = {
  machine: grantMachine,
  input: {
    roomId: 'r1',
    lockDeviceId: 'd1',
    vendor: 'ttlock',
    vendorDeviceRef: '1',
    credentialId: 'c1',
    propertyId: 'p1',
    kind: 'pin',
    retry: { maxAttempts: 2, revokeAttempts: 2, baseDelayMs: 1000, maxDelayMs: 60_000 },
    want: { validFrom: 'a', validUntil: 'b', secret: 's0', pinIndex: 0, open: true },
  },
  events(s) {
    const c = grantOf(s);
    return [
      ...grantInputs(c),
      { type: 'grant.want', at, validFrom: 'a', validUntil: c.want.validUntil === 'b' ? 'c' : 'b' },
      ...(c.want.pinIndex < 1 ? [{ type: 'grant.repin', at, secret: 's1', pinIndex: 1 }] : []),
      { type: 'grant.close', at },
      // Wanted again after a close (a room taken back).
      ...(c.want.open
        ? []
        : [
            {
              type: 'grant.reopen',
              at,
              validFrom: 'a',
              validUntil: c.want.validUntil,
              secret: 's0',
              pinIndex: c.want.pinIndex,
            },
          ]),
      { type: 'grant.lost', at, vendorRef: c.vendorRef ?? 'v1' },
      { type: 'grant.lost', at, vendorRef: 'another' },
    ];
  },
  abstract: (s) => abstractGrant(s.value, grantOf(s)),
  invariants(s, intents) {
    const c = grantOf(s);
    const out: string[] = [];
    const calls = intents.filter((i) => i.type === 'callVendor').length;
    if (calls > 1) out.push('more than one vendor call in flight');
    if (s.value === 'gone' && (c.mayExist || c.op))
      out.push('gone while something may exist or is in flight');
    if (s.value === 'issued' && (!c.want.open || c.held?.validUntil !== c.want.validUntil))
      out.push('issued without holding what is wanted');
    // A calling or waiting state has its operation (a wait retries it); a settled one has none.
    const v = JSON.stringify(s.value);
    const settled = v === '"issued"' || v === '"gone"';
    const calling =
      ['"issuing"', '"modifying"'].includes(v) || /revoking|retryWait|RetryWait|stalled/.test(v);
    if (settled && c.op) out.push(`an operation left in ${v}`);
    if (calling && !c.op) out.push(`no operation in ${v}`);
    return out;
  },
};

interface CredCtx {
  grants: { value: unknown; context: GrantCtx }[];
  closeGoal: string | null;
  validUntil: string;
  spareSecrets: string[];
  stallReported: boolean;
  deferredUpdate: unknown;
  windowSeq: number | null;
}
const credOf = (s: AnyMachineSnapshot) => s.context as unknown as CredCtx;
const W = ['2026-01-03T11:00:00.000Z', '2026-01-05T11:00:00.000Z'];

const isMove = (key: string) =>
  key.includes('| credential.moveRoom |') || key.includes('| credential.changeRooms |');

const credentialModel: Model = {
  machine: credentialMachine,
  input: { id: 'c1', tenantId: 't1' },
  // Room moves are the moves model's (below): both grants' answers here would multiply the search.
  covers: (key) => !isMove(key),
  events(s) {
    const c = credOf(s);
    const g = c.grants[0]?.context;
    const issue = issueEvent([1], {
      secret: 's0',
      spareSecrets: ['s1'],
      // Retries in the grant are the grant model's business: here one attempt each keeps the search small.
      retry: { maxAttempts: 1, revokeAttempts: 1, baseDelayMs: 1000, maxDelayMs: 60_000 },
    });
    return [
      issue,
      // Sent again: a turn of it that ended without a commit may have made it at the vendor.
      { ...issue, mayHaveRun: ['d1'] },
      issueEvent([], { rooms: ['r9'], unresolved: [{ roomId: 'r9', code: 'NO_LOCK_FOR_ROOM' }] }),
      {
        type: 'credential.update',
        at,
        validFrom: '2026-01-01T14:00:00.000Z',
        validUntil: c.validUntil === W[0] ? W[1] : W[0],
      },
      // The reservation's numbered updates: a newer number, with another window or the same one.
      ...[W[0], W[1]].map((validUntil) => ({
        type: 'credential.update',
        at,
        validFrom: '2026-01-01T14:00:00.000Z',
        validUntil,
        seq: 1,
      })),
      { type: 'credential.revoke', at, reason: 'checked_out' },
      { type: 'timer.expire', at: c.validUntil || W[0], validUntil: c.validUntil },
      { type: 'timer.expire', at: '2026-01-02T00:00:00.000Z', validUntil: W[0] },
      ...(g
        ? [
            ...grantInputs(g),
            { type: 'credential.grantLost', at, lockDeviceId: 'd1', vendorRef: g.vendorRef ?? 'v1' },
          ]
        : []),
    ] as Ev[];
  },
  // What the credential's own guards read of its grants (the grant model covers the rest); the coverage
  // assertions below fail if this merges states the credential tells apart.
  abstract(s) {
    const c = credOf(s);
    return [
      s.value,
      c.closeGoal,
      c.validUntil,
      c.spareSecrets.length,
      c.stallReported,
      !!c.deferredUpdate,
      c.windowSeq !== null,
      c.grants.map((g) => [
        g.value,
        g.context.want.open,
        g.context.held?.validUntil === g.context.want.validUntil,
        g.context.stalled,
        g.context.mustReplace,
        g.context.op?.name,
      ]),
    ];
  },
  invariants(s) {
    const c = credOf(s);
    const out: string[] = [];
    const values = c.grants.map((g) => JSON.stringify(g.value));
    if (['revoked', 'expired'].includes(String(s.value)) && values.some((v) => v !== '"gone"'))
      out.push(`${String(s.value)} with a grant not gone: ${values.join(',')}`);
    if (s.value === 'failed' && values.some((v) => v !== '"gone"')) out.push('failed with a grant not gone');
    if (s.value === 'tombstoned' && values.some((v) => v !== '"gone"'))
      out.push(`tombstoned with a grant not gone: ${values.join(',')}`);
    // Active: each grant holds it, or is being replaced (a grant the vendor lost) by a later generation.
    const replaced = (g: { value: unknown; context: GrantCtx & { generation?: number } }) =>
      JSON.stringify(g.value).includes('replacing') || (g.context.generation ?? 0) > 0;
    if (s.value === 'active' && c.grants.some((g) => g.value !== 'issued' && !replaced(g)))
      out.push(`active with grants ${values.join(',')}`);
    return out;
  },
};

/**
 * A credential whose room's lock is replaced (a vendor cutover): the old lock's grant may close only once the
 * new lock's grant is issued, unless the credential itself is closing — a guest is never without a key.
 */
const NEW_LOCK = { roomId: 'r1', lockDeviceId: 'd2', vendor: 'seam', vendorDeviceRef: '2' };
const movesModel: Model = {
  machine: credentialMachine,
  input: { id: 'c1', tenantId: 't1' },
  covers: isMove,
  partial: true,
  events(s) {
    const c = credOf(s);
    const done = (op: GrantCtx['op']): Ev[] =>
      op
        ? answers(op).filter(
            (e) =>
              e.type.startsWith('effect.done') ||
              ['INVALID', 'DUPLICATE'].includes((e as { error?: { code: string } }).error?.code ?? ''),
          )
        : [];
    const issue = issueEvent([1], {
      secret: 's0',
      retry: { maxAttempts: 1, revokeAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
    return [
      issue,
      { ...issue, mayHaveRun: ['d1'] },
      { type: 'credential.moveRoom', at, roomId: 'r1', from: 'd1', target: NEW_LOCK },
      // The reservation moves to another room (numbered 1: newer than the issue's, which has none).
      {
        type: 'credential.changeRooms',
        at,
        rooms: ['r3'],
        targets: [{ roomId: 'r3', lockDeviceId: 'd3', vendor: 'ttlock', vendorDeviceRef: '3' }],
        seq: 1,
      },
      { type: 'credential.update', at, validFrom: '2026-01-01T14:00:00.000Z', validUntil: W[1] },
      { type: 'credential.revoke', at, reason: 'checked_out' },
      ...c.grants.flatMap((g) => done(g.context.op)),
    ] as Ev[];
  },
  abstract(s) {
    const c = credOf(s);
    return [
      s.value,
      c.closeGoal,
      c.validUntil,
      (c as unknown as { moves?: unknown[] }).moves?.length ?? 0,
      c.grants.map((g) => [
        (g.context as unknown as { lockDeviceId: string }).lockDeviceId,
        g.value,
        g.context.want.open,
        g.context.held !== null,
        g.context.op?.name,
      ]),
    ];
  },
  invariants(s, _intents, before) {
    const c = credOf(s);
    const out: string[] = [];
    // The step that closes the old lock's grant (not the credential closing): the new lock holds the
    // credential then (confirmed by its vendor; a change of window under way still holds the old window).
    const openOn = (x: AnyMachineSnapshot, lock: string) =>
      credOf(x).grants.some(
        (g) =>
          (g.context as unknown as { lockDeviceId: string }).lockDeviceId === lock && g.context.want.open,
      );
    const revokesOld = openOn(before, 'd1') && !openOn(s, 'd1');
    const newHolds = c.grants.some(
      (g) =>
        (g.context as unknown as { lockDeviceId: string }).lockDeviceId !== 'd1' &&
        g.context.want.open &&
        g.context.held !== null,
    );
    if (revokesOld && c.closeGoal === null && !newHolds)
      out.push("the old lock's grant revoked before a new lock holds the credential");
    if (s.value === 'active' && ((c as unknown as { moves?: unknown[] }).moves?.length ?? 0) > 0)
      out.push('active with a move under way');
    return out;
  },
};

interface ResCtx {
  windowOrder: { seq: number } | null;
  endReason: string | null;
  credentials: { id: string }[];
  seen: string[];
}
const resOf = (s: AnyMachineSnapshot) => s.context as unknown as ResCtx;
const reservationModel: Model = {
  machine: reservationMachine,
  input: { id: 'r1', tenantId: 't1' },
  events(s) {
    const c = resOf(s);
    const order = (seq: number) => ({ epoch: 'e', seq });
    const platform = [1, 2, 3].flatMap((seq) => [
      {
        type: 'reservation.confirmed',
        at,
        eventId: `c${seq}`,
        order: order(seq),
        propertyId: 'p1',
        checkIn: 'a',
        checkOut: `b${seq}`,
        issues: [{ credentialId: 'c-pin', event: issueEvent([1]) }],
      },
      {
        type: 'reservation.datesChanged',
        at,
        eventId: `d${seq}`,
        order: order(seq),
        checkIn: 'a',
        checkOut: `b${seq}`,
      },
      { type: 'reservation.ended', at, eventId: `x${seq}`, order: order(seq), reason: 'cancelled' },
      {
        type: 'reservation.roomsChanged',
        at,
        eventId: `r${seq}`,
        order: order(seq),
        rooms: [`r${seq}`],
        plans: {
          pin: {
            targets: [
              { roomId: `r${seq}`, lockDeviceId: `d${seq}`, vendor: 'ttlock', vendorDeviceRef: `${seq}` },
            ],
            unresolved: [],
          },
        },
      },
    ]);
    return [
      ...platform.filter((e) => c.seen.length < 3 || c.seen.includes(e.eventId)),
      { type: 'reservation.credentialLinked', at, credentialId: 'c-rest', kind: 'pin' },
    ] as Ev[];
  },
  abstract: (s) => {
    const c = resOf(s);
    return [
      s.value,
      c.windowOrder?.seq ?? 0,
      (c as unknown as { roomsChange?: { order: { seq: number } } | null }).roomsChange?.order.seq ?? 0,
      (c as unknown as { confirmedOrder?: { seq: number } | null }).confirmedOrder?.seq ?? 0,
      c.endReason,
      c.credentials.map((x) => x.id).sort(),
      [...c.seen].sort(),
    ];
  },
  invariants(s, intents) {
    const c = resOf(s);
    const out: string[] = [];
    if (s.value !== 'ended' && c.endReason) out.push('an end recorded outside ended');
    const issues = intents.filter(
      (i) => (i as { params?: MessageIntent }).params?.event.type === 'credential.issue',
    );
    if (issues.length > 0 && s.value !== 'confirmed') out.push(`issued in ${String(s.value)}`);
    return out;
  },
};

/** Every state node an actor can rest in (atomic, not transient). */
function restingIds(machine: AnyStateMachine): string[] {
  const ids: string[] = [];
  const walk = (n: AnyStateMachine['root']) => {
    const children = Object.values(n.states);
    if (children.length === 0) {
      const always = ([] as { guard?: unknown }[]).concat((n.config.always as never) ?? []);
      if (!always.some((t) => t.guard === undefined)) ids.push(n.id);
    }
    for (const c of children) walk(c as AnyStateMachine['root']);
  };
  walk(machine.root);
  return ids;
}

/** Every transition a machine declares on an event, other than a declared ignore, by a stable key. */
function declaredTransitions(machine: AnyStateMachine): Set<string> {
  const keys = new Set<string>();
  const walk = (n: AnyStateMachine['root']) => {
    for (const [type, ts] of n.transitions)
      ts.forEach((t, i) => {
        if (!isIgnore(t)) keys.add(`${n.id} | ${type} | ${i}`);
      });
    for (const c of Object.values(n.states)) walk(c as AnyStateMachine['root']);
  };
  walk(machine.root);
  return keys;
}

const keyOf = (t: AnyTransitionDefinition) =>
  `${t.source.id} | ${t.eventType} | ${t.source.transitions.get(t.eventType)!.indexOf(t)}`;
const stateId = (machine: AnyStateMachine, s: AnyMachineSnapshot) =>
  s._nodes.filter((n) => n.type === 'atomic').map((n) => n.id)[0] ?? machine.id;

function explore(model: Model) {
  const { machine } = model;
  const paths = getShortestPaths(machine, {
    input: model.input,
    events: model.events,
    serializeState: (s: AnyMachineSnapshot) => JSON.stringify(model.abstract(s)),
    limit: 2_000_000,
  } as never);
  const reached = new Set<string>();
  const fired = new Set<string>();
  const problems = new Set<string>();
  for (const p of paths) {
    const s = p.state as AnyMachineSnapshot;
    reached.add(stateId(machine, s));
    for (const e of model.events(s)) {
      for (const t of machine.getTransitionData(s, e)) fired.add(keyOf(t));
      const [next, actions] = transition(machine, s, e);
      // The runtime's transition (one inert scope per machine) steps exactly as xstate's.
      const [mine, myActions] = step(machine, s, e);
      if (
        JSON.stringify(machine.getPersistedSnapshot(mine)) !==
          JSON.stringify(machine.getPersistedSnapshot(next)) ||
        JSON.stringify(myActions.map((a) => [a.type, a.params])) !==
          JSON.stringify(actions.map((a) => [a.type, a.params]))
      )
        problems.add(`${JSON.stringify(s.value)} --${e.type}-->: step() differs from xstate's transition()`);
      // The commit stores the runtime's persisted form: the very JSON xstate's would be.
      if (
        JSON.stringify(persistedSnapshot(machine, next)) !==
        JSON.stringify(machine.getPersistedSnapshot(next))
      )
        problems.add(`${JSON.stringify(next.value)}: persistedSnapshot() differs from xstate's`);
      reached.add(stateId(machine, next));
      for (const problem of model.invariants(next, actions as { type: string }[], s))
        problems.add(`${JSON.stringify(s.value)} --${e.type}--> ${JSON.stringify(next.value)}: ${problem}`);
      // The runtime steps a snapshot restored from its JSON: it must step the same way.
      const restored = machine.resolveState(JSON.parse(JSON.stringify(machine.getPersistedSnapshot(s))));
      const [again] = transition(machine, restored, e);
      if (
        JSON.stringify(machine.getPersistedSnapshot(again)) !==
        JSON.stringify(machine.getPersistedSnapshot(next))
      )
        problems.add(`${JSON.stringify(s.value)} --${e.type}-->: a restored snapshot steps differently`);
    }
  }
  if (process.env.MODEL_STATS) console.log(machine.id, paths.length, 'states');
  return { paths, reached, fired, problems };
}

describe('machines: model-based paths', () => {
  for (const [name, model] of [
    ['grant', grantModel],
    ['credential', credentialModel],
    ['credential moving a room', movesModel],
    ['reservation', reservationModel],
  ] as const) {
    it(`paths: ${name} reaches every state, fires every declared transition, and keeps its invariants`, () => {
      const { paths, reached, fired, problems } = explore(model);
      expect(paths.length).toBeGreaterThan(10);
      if (!model.partial) expect(restingIds(model.machine).filter((id) => !reached.has(id))).toEqual([]);
      const covers = model.covers ?? (() => true);
      expect([...declaredTransitions(model.machine)].filter((k) => covers(k) && !fired.has(k))).toEqual([]);
      expect([...problems]).toEqual([]);
    });
  }
});
