/**
 * Random interleavings of what a credential lives through — windows changed, revokes, expiry, grants the
 * vendor loses, and every kind of vendor answer (done, retryable or permanent failure, a refused password,
 * a timeout the vendor actually carried out, duplicates and late answers, stale timers) — against the
 * reference vendor model. After every step: a credential reported revoked or expired has nothing at the
 * vendor. At quiescence (a healthy vendor answers everything): the vendor holds exactly the grants the
 * credential calls live, each with its latest window and PIN, and nothing is published twice.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { issueEvent } from '../../support/credentialEvents.ts';
import { type DeliveryMode, LifecycleWorld } from '../../support/lifecycleWorld.ts';

const windows = [
  { validFrom: '2026-01-01T14:00:00.000Z', validUntil: '2026-01-03T11:00:00.000Z' },
  { validFrom: '2026-01-01T14:00:00.000Z', validUntil: '2026-01-05T11:00:00.000Z' },
  { validFrom: '2026-01-02T14:00:00.000Z', validUntil: '2026-01-04T11:00:00.000Z' },
  { validFrom: '2026-01-01T12:00:00.000Z', validUntil: '2026-01-02T11:00:00.000Z' },
];

type Command =
  | { kind: 'deliver'; pick: number; mode: DeliveryMode }
  | { kind: 'fireRetry'; pick: number }
  | { kind: 'update'; window: number }
  | { kind: 'revoke' }
  | { kind: 'expire' }
  | { kind: 'lose'; pick: number }
  | { kind: 'replayOutcome'; pick: number }
  | { kind: 'replayTimer'; pick: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      pick: fc.nat(),
      mode: fc.constantFrom<DeliveryMode>(
        'done',
        'done',
        'retryable',
        'permanent',
        'timeoutThenDone',
        'auth',
      ),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('fireRetry' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('update' as const),
      window: fc.nat({ max: windows.length - 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'revoke' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'expire' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lose' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replayOutcome' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replayTimer' as const), pick: fc.nat() }) },
);

const scenario = fc.record({
  locks: fc.integer({ min: 1, max: 3 }),
  /** Locks (by index) where another guest already holds the credential's first PIN. */
  takenPins: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  commands: fc.array(command, { maxLength: 40 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** Runs a scenario; returns what went wrong (empty when nothing did). */
function run(s: Scenario): string[] {
  const problems: string[] = [];
  const w = new LifecycleWorld();
  const locks = Array.from({ length: s.locks }, (_, i) => i + 1);
  for (const l of s.takenPins) w.vendor.foreignPins.set(String(l), new Set(['pin0']));
  w.send(
    issueEvent(locks, {
      secret: 'pin0',
      spareSecrets: ['pin1', 'pin2'],
      retry: { maxAttempts: s.maxAttempts, baseDelayMs: 1000, maxDelayMs: 60_000 },
      ...windows[0],
    }),
  );
  let lastWindow = windows[0]!;
  const outcomes: { type: string; [k: string]: unknown }[] = [];
  const fired: { type: string; [k: string]: unknown }[] = [];
  const recordOutcomes = () => {
    // The world sends outcomes itself; remember them (as the stream would) to deliver again later.
    const last = w.lastSent;
    if (last && 'operationId' in last) outcomes.push(last);
  };
  for (const c of s.commands) {
    switch (c.kind) {
      case 'deliver':
        if (w.pending.length === 0) break;
        w.deliver(c.mode, c.pick % w.pending.length);
        recordOutcomes();
        break;
      case 'fireRetry': {
        const keys = [...w.timers.keys()].filter((k) => k !== 'expire');
        if (keys.length === 0) break;
        const key = keys[c.pick % keys.length]!;
        const t = w.timers.get(key)!;
        fired.push({ ...t.event, at: t.dueAt });
        w.fire(key);
        break;
      }
      case 'update':
        lastWindow = windows[c.window]!;
        w.send({ type: 'credential.update', at: w.now(), ...lastWindow });
        break;
      case 'revoke':
        w.send({ type: 'credential.revoke', at: w.now(), reason: 'checked_out' });
        break;
      case 'expire':
        if (w.timers.has('expire')) {
          const t = w.timers.get('expire')!;
          fired.push({ ...t.event, at: t.dueAt });
          w.fire('expire');
        }
        break;
      case 'lose': {
        const held = w.heldAtVendor();
        if (held.length === 0) break;
        const o = held[c.pick % held.length]!;
        w.vendor.lose(o.ref);
        const lock = `d${o.lockRef}`;
        w.send({ type: 'credential.grantLost', at: w.now(), lockDeviceId: lock, vendorRef: o.ref });
        break;
      }
      case 'replayOutcome':
        if (outcomes.length > 0) w.send({ ...outcomes[c.pick % outcomes.length]!, at: w.now() });
        break;
      case 'replayTimer':
        if (fired.length > 0) w.send(fired[c.pick % fired.length]!);
        break;
    }
    if ((w.status === 'revoked' || w.status === 'expired') && w.heldAtVendor().length > 0)
      problems.push(`${w.status} while the vendor holds ${w.heldAtVendor().length} of its grants`);
  }
  w.quiesce();
  if (!['active', 'revoked', 'expired', 'failed'].includes(w.status))
    problems.push(`no settled status at quiescence: ${w.status} (${JSON.stringify(w.snapshot.value)})`);
  problems.push(...w.invariantViolations());
  if (
    w.status === 'active' &&
    (w.context.validFrom !== lastWindow.validFrom || w.context.validUntil !== lastWindow.validUntil)
  )
    problems.push(
      `active with ${w.context.validFrom}–${w.context.validUntil}, last asked ${lastWindow.validFrom}–${lastWindow.validUntil}`,
    );
  for (const verb of ['issued', 'revoked', 'expired', 'failed']) {
    const n = w.published.filter((p) => p.verb === verb).length;
    if (n > 1) problems.push(`${verb} published ${n} times`);
  }
  // A stalled revoke is reported once per lock and generation; a close starts the reports afresh, so one that
  // stalled while being replaced may be reported again when the credential closes — at most that.
  const closed = w.context.closeGoal !== null;
  const stalls = new Map<string, number>();
  for (const p of w.published.filter((x) => x.verb === 'revoke_stalled')) {
    const key = `${String(p.data?.lockDeviceId)}@${String(p.data?.generation)}`;
    stalls.set(key, (stalls.get(key) ?? 0) + 1);
  }
  for (const [key, n] of stalls)
    if (n > (closed ? 2 : 1)) problems.push(`revoke_stalled for ${key} published ${n} times`);
  const ends = w.published.filter((p) => ['revoked', 'expired', 'failed'].includes(p.verb)).length;
  if (ends > 1) problems.push(`${ends} end events`);
  return problems;
}

describe('credential lifecycle, random interleavings', () => {
  it('property: at quiescence the vendor holds exactly what the credential calls live; revoked never while the vendor holds it', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        expect(run(s)).toEqual([]);
      }),
      { numRuns: 1500 },
    );
  });
});
