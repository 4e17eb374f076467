/**
 * A credential actor and a reference model of its vendor, driven step by step: the credential's journaled
 * intents are queued as the runtime would queue them, delivered one at a time against the model with a
 * chosen outcome (done, retryable failure, permanent failure, or a timeout that the vendor actually
 * carried out), and durable timers fire when told. The snapshot round-trips through JSON at every step,
 * as it does through PostgreSQL.
 *
 * The model is what an idempotent adapter promises (port.ts): an issue first looks its operation up and
 * creates only if nothing carries that name; a revoke of something already gone succeeds; a validity change
 * of something gone is NOT_FOUND. A PIN that a foreign credential already holds on a lock is DUPLICATE.
 */
import { type AnyMachineSnapshot, initialTransition, transition } from 'xstate';
import { actorKinds } from '../../src/actors/actorKinds.ts';
import { buildCommit, type OutboxRow } from '../../src/actors/commit.ts';
import {
  type CredentialSnapshot,
  credentialMachine,
  credentialStatus,
  type EffectError,
  effectDone,
  effectFailed,
  type TimerIntent,
  type VendorIntent,
} from '../../src/machines/index.ts';

export interface VendorObject {
  ref: string;
  /** The issue operation that made it (what a look-up by operation finds). */
  operationId: string;
  lockRef: string;
  validFrom: string;
  validUntil: string;
  secret: string | null;
}

export type DeliveryMode = 'done' | 'retryable' | 'permanent' | 'timeoutThenDone' | 'auth' | 'monthlyQuota';

const errors: Record<Exclude<DeliveryMode, 'done' | 'timeoutThenDone'>, EffectError> = {
  retryable: { code: 'OFFLINE', message: 'gateway offline', retryable: true },
  permanent: { code: 'INVALID', message: 'vendor refused', retryable: false },
  auth: { code: 'AUTH', message: 'password rotated', retryable: false },
  // A vendor's hint that its quota resets in a month (TTLock 30007).
  monthlyQuota: {
    code: 'RATE_LIMITED',
    message: 'monthly quota',
    retryable: true,
    retryAfterMs: 30 * 86_400_000,
  },
};
const timeout: EffectError = { code: 'TIMEOUT', message: 'no answer in time', retryable: true };

export class VendorModel {
  readonly objects = new Map<string, VendorObject>();
  /** PINs foreign credentials hold, per lock ref. */
  readonly foreignPins = new Map<string, Set<string>>();
  /** Vendors that choose a PIN credential's PIN themselves (Salto KS): their issue answers with it. */
  readonly choosesPins = new Set<string>();
  private n = 0;

  private find(operationId: string, vendorRef: string | null): VendorObject | undefined {
    if (vendorRef) {
      const o = this.objects.get(vendorRef);
      if (o) return o;
    }
    return [...this.objects.values()].find((o) => o.operationId === operationId);
  }

  /** Carries an intent out; returns the vendor reference, or the failure it refuses with. */
  apply(i: VendorIntent): { vendorRef: string | null } | { error: EffectError } {
    if (i.intent === 'issueGrant') {
      const existing = this.find(i.operationId, null);
      if (existing) return { vendorRef: existing.ref };
      if (i.kind === 'pin' && i.secret && this.foreignPins.get(i.vendorDeviceRef)?.has(i.secret))
        return { error: { code: 'DUPLICATE', message: 'the lock holds this PIN', retryable: false } };
      const ref = `v${++this.n}`;
      this.objects.set(ref, {
        ref,
        operationId: i.operationId,
        lockRef: i.vendorDeviceRef,
        validFrom: i.validFrom,
        validUntil: i.validUntil,
        secret: i.secret,
      });
      return { vendorRef: ref };
    }
    const o = this.find(i.issueOperationId, i.vendorRef);
    if (i.intent === 'modifyGrant') {
      if (!o) return { error: { code: 'NOT_FOUND', message: 'no such credential', retryable: false } };
      o.validFrom = i.validFrom;
      o.validUntil = i.validUntil;
      return { vendorRef: o.ref };
    }
    if (o) this.objects.delete(o.ref);
    return { vendorRef: null };
  }

  /** The vendor drops a credential on its own (it never reached the lock). */
  lose(ref: string): void {
    this.objects.delete(ref);
  }
}

export class LifecycleWorld {
  snapshot: AnyMachineSnapshot;
  readonly vendor = new VendorModel();
  pending: VendorIntent[] = [];
  readonly timers = new Map<string, TimerIntent>();
  readonly published: { verb: string; data?: Record<string, unknown> }[] = [];
  /** The published events as the runtime's commits write them (subject and payload). */
  readonly outbox: OutboxRow[] = [];
  /** The last event applied (the property test replays outcomes as a redelivering stream would). */
  lastSent: { type: string; [k: string]: unknown } | undefined;
  private clock = Date.UTC(2026, 0, 1, 10, 0, 0);
  /** The actor's version: each step's commit is built as the runtime builds it. */
  private version = 0;

  constructor(id = 'c1') {
    [this.snapshot] = initialTransition(credentialMachine, { id, tenantId: 't1' });
  }

  now(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  get status(): string {
    return credentialStatus(this.snapshot as CredentialSnapshot);
  }

  get context(): CredentialSnapshot['context'] {
    return (this.snapshot as CredentialSnapshot).context;
  }

  /** Applies an event as the runtime does: restore from JSON, transition, journal the intents. */
  send(event: { type: string; [k: string]: unknown }): void {
    this.lastSent = event;
    const restored = credentialMachine.resolveState(
      JSON.parse(JSON.stringify(credentialMachine.getPersistedSnapshot(this.snapshot))) as Parameters<
        typeof credentialMachine.resolveState
      >[0],
    );
    const [next, actions] = transition(credentialMachine, restored, event as never);
    // The commit the runtime would write: under LOCK_STRICT_EVENTS=1 (every test) its published events are
    // checked against their schemas here, on every path the property tests walk.
    const commit = buildCommit({
      kind: actorKinds.credential,
      tenantId: 't1',
      actorId: this.context.id,
      partition: 0,
      fence: 1n,
      previous: restored,
      next,
      previousVersion: this.version,
      seq: this.version + 1,
      epoch: 'model',
      consumed: {},
      msgId: `model-${this.version + 1}`,
      event: event as { type: string; at?: string },
      actions,
      eventsRoot: 'melmastoon.lock',
      now: new Date(this.clock),
    });
    this.outbox.push(...commit.outbox);
    this.version++;
    this.snapshot = next;
    for (const a of actions) {
      const params = a.params as unknown;
      switch (a.type) {
        case 'callVendor':
          this.pending.push(params as VendorIntent);
          break;
        case 'scheduleTimer': {
          const t = params as TimerIntent;
          this.timers.set(t.key, t);
          break;
        }
        case 'cancelTimer':
          this.timers.delete((params as { key: string }).key);
          break;
        case 'publishEvent':
          this.published.push(params as { verb: string; data?: Record<string, unknown> });
          break;
        default:
          break;
      }
    }
  }

  /** Delivers the pending intent at `index` (the oldest by default) with the outcome `mode`. */
  deliver(mode: DeliveryMode = 'done', index = 0): VendorIntent {
    const [intent] = this.pending.splice(index, 1);
    if (!intent) throw new Error('no pending intent');
    const at = this.now();
    if (mode === 'done' || mode === 'timeoutThenDone') {
      const r = this.vendor.apply(intent);
      if ('error' in r) this.send(effectFailed(intent, at, r.error));
      else if (mode === 'done') {
        const chosen =
          intent.intent === 'issueGrant' &&
          intent.kind === 'pin' &&
          this.vendor.choosesPins.has(intent.vendor);
        this.send(effectDone(intent, at, r.vendorRef, chosen ? `chosen-${r.vendorRef}` : undefined));
      } else this.send(effectFailed(intent, at, timeout));
      return intent;
    }
    this.send(effectFailed(intent, at, errors[mode]));
    return intent;
  }

  /** Fires the timer under `key` as the dispatcher does: its event, at its due time. */
  fire(key: string): void {
    const t = this.timers.get(key);
    if (!t) throw new Error(`no timer ${key}`);
    this.timers.delete(key);
    this.send({ ...t.event, at: t.dueAt });
  }

  /** A delivery of an old timer message (the dispatcher published it before the timer moved). */
  fireStale(t: TimerIntent): void {
    this.send({ ...t.event, at: t.dueAt });
  }

  /**
   * Runs to quiescence with a healthy vendor: every pending intent done, every retry timer fired (the
   * expiry timer is left alone: it is the credential's end, not a retry). Returns the steps taken.
   */
  quiesce(maxSteps = 500): number {
    for (let step = 0; step < maxSteps; step++) {
      if (this.pending.length > 0) {
        this.deliver('done');
        continue;
      }
      const retry = [...this.timers.keys()].find((k) => k !== 'expire');
      if (retry === undefined) return step;
      this.fire(retry);
    }
    throw new Error(`no quiescence after ${maxSteps} steps`);
  }

  /** The vendor objects of this credential (by the operation ids it names), alive at the vendor. */
  heldAtVendor(): VendorObject[] {
    return [...this.vendor.objects.values()].filter((o) => o.operationId.startsWith(`${this.context.id}:`));
  }

  /**
   * What must hold at quiescence: a live credential has exactly its grants at the vendor, each with the
   * credential's window and PIN; a closed one (revoked, expired, failed) has nothing there.
   */
  invariantViolations(): string[] {
    const out: string[] = [];
    const held = this.heldAtVendor();
    const closed = ['revoked', 'expired', 'failed'].includes(this.status);
    if (closed) {
      if (held.length > 0)
        out.push(`${this.status} but the vendor holds ${held.map((o) => o.ref).join(', ')}`);
      return out;
    }
    const c = this.context;
    const refs = liveGrantRefs(this.snapshot);
    const heldRefs = held.map((o) => o.ref).sort();
    if (JSON.stringify(heldRefs) !== JSON.stringify([...refs].sort()))
      out.push(
        `the credential calls ${JSON.stringify(refs)} live, the vendor holds ${JSON.stringify(heldRefs)}`,
      );
    for (const o of held) {
      if (o.validFrom !== c.validFrom || o.validUntil !== c.validUntil)
        out.push(
          `${o.ref} holds ${o.validFrom}–${o.validUntil}, the credential ${c.validFrom}–${c.validUntil}`,
        );
      if (c.kind === 'pin' && o.secret !== c.secret)
        out.push(`${o.ref} holds PIN ${o.secret}, the credential ${c.secret}`);
    }
    return out;
  }
}

/** The vendor references of the grants a credential calls live: its read-model grants that are active. */
function liveGrantRefs(s: AnyMachineSnapshot): string[] {
  const row = actorKinds.credential.project(s, 1);
  if (!row || row.table !== 'key_credentials') return [];
  const grants = JSON.parse(row.row.grants) as { status: string; vendorRef: string | null }[];
  return grants.filter((g) => g.status === 'active' && g.vendorRef).map((g) => g.vendorRef as string);
}
