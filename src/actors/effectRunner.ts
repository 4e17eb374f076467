/**
 * Runs journaled vendor intents after their transaction committed, and returns each outcome to its actor
 * as an ordinary message. An intent stays in `effect_intents` until its outcome is in the actor's inbox;
 * if this process dies first, the sweeper of any process runs it again (adapters are idempotent under
 * the operation id, so a second run finds what the first one made).
 *
 * A claim lasts `claimMs`, and this process renews the claims of the intents it holds (queued behind a
 * busy lock or a vendor's bulkhead, or in a slow vendor call) while it lives: otherwise another process's
 * sweeper would run an intent that is still running here, and two concurrent runs can both find nothing
 * and both create (TTLock: two passcodes). A claim is held at a `runs` count; when renewal finds the
 * count moved on, another process took the intent over and this one drops it if it has not started.
 */
import { sql } from 'kysely';
import { ensureError, isLockError } from '../errors.ts';
import type { Clock } from '../ids.ts';
import type { SecretBox } from '../io/crypto/secretBox.ts';
import type { Db } from '../io/db/index.ts';
import type { AdapterResolver } from '../io/vendors/adapterResolver.ts';
import { VendorError } from '../io/vendors/port.ts';
import {
  type EffectError,
  type EffectOutcomeEvent,
  effectDone,
  effectFailed,
  type VendorIntent,
} from '../machines/index.ts';
import { DrainLoop } from './drainLoop.ts';
import type { ActorMailbox } from './mailbox.ts';
import type { ActorType } from './partitioning.ts';
import { type BulkheadJob, VendorBulkhead } from './vendorBulkhead.ts';

export interface EffectJob {
  id: string;
  tenantId: string;
  actorType: ActorType;
  actorId: string;
  intent: VendorIntent;
  /** True when this job may already have run (sweeper): the adapter looks up before it creates. */
  rerun: boolean;
  /** The intent's `runs` when this process claimed it (0: claimed by its own commit). */
  claim: number;
}

/** A claim this process holds, and when it renews it (half its life before it lapses). */
interface HeldClaim {
  runs: number;
  renewAt: number;
}

export interface EffectRunnerOptions {
  dispatcherDb: Db;
  mailbox: ActorMailbox;
  adapters: AdapterResolver;
  secrets: SecretBox;
  clock: Clock;
  timeoutMs: number;
  /** Vendor calls in flight per vendor (32); always one at a time per lock. */
  concurrency?: number;
  sweepEveryMs?: number;
  /** A claimed intent not finished within this time is taken by the sweeper. */
  claimMs?: number;
  onOutcome?: (vendor: string, intent: string, outcome: string, ms: number) => void;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

export class EffectRunner {
  private readonly queue: VendorBulkhead<EffectJob & BulkheadJob>;
  /** The intents this process holds, queued or running, by id. */
  private readonly held = new Map<string, HeldClaim>();
  private active = 0;
  private doneIds: string[] = [];
  private flushing: Promise<void> | null = null;
  /** One sweep at a time (a slow one is not overlapped by the next); one pass per interval. */
  private readonly sweeping: DrainLoop;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: EffectRunnerOptions) {
    // Vendor calls in flight per vendor: vendor clouds rate-limit, and a flood only turns into timeouts.
    this.queue = new VendorBulkhead(o.concurrency ?? 32);
    this.sweeping = new DrainLoop(() => this.sweep().then(() => 0), {
      everyMs: o.sweepEveryMs ?? 2000,
      onError: (e) => o.log?.('sweep failed', { err: String(e) }),
    });
  }

  start(): void {
    this.sweeping.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.sweeping.stop();
    await this.idle();
  }

  private get claimMs(): number {
    return this.o.claimMs ?? 30_000;
  }

  submit(jobs: EffectJob[]): void {
    const renewAt = performance.now() + this.claimMs / 2;
    for (const j of jobs) {
      if (this.held.has(j.id)) continue;
      this.held.set(j.id, { runs: j.claim, renewAt });
      this.queue.push({
        ...j,
        vendor: j.intent.vendor,
        lockKey: `${j.tenantId}:${j.intent.vendor}:${j.intent.vendorDeviceRef}`,
      });
    }
    this.pump();
  }

  /** Resolves when nothing is queued, running or waiting to be marked done. */
  async idle(): Promise<void> {
    while (this.active > 0 || this.queue.size > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
    await this.flushDone();
  }

  /**
   * Renews the claims this process holds that are half-way to lapsing, then claims intents whose claim
   * lapsed (their runner died) and runs them again.
   */
  async sweep(): Promise<number> {
    if (this.stopped) return 0;
    await this.renewClaims();
    const rows = await sql<{
      id: string;
      tenant_id: string;
      actor_type: string;
      actor_id: string;
      intent: VendorIntent;
      runs: number;
    }>`
      update effect_intents set claimed_until = now() + ${`${this.claimMs} milliseconds`}::interval, runs = runs + 1
       where id in (select id from effect_intents where claimed_until < now()
                     order by claimed_until limit 200 for update skip locked)
      returning id, tenant_id, actor_type, actor_id, intent, runs
    `.execute(this.o.dispatcherDb);
    for (const r of rows.rows) {
      // Ours, and lapsed all the same (this process stalled past its claim): it is the sweep's claim now.
      const mine = this.held.get(r.id);
      if (mine) Object.assign(mine, { runs: r.runs, renewAt: performance.now() + this.claimMs / 2 });
    }
    this.submit(
      rows.rows
        .filter((r) => !this.held.has(r.id))
        .map((r) => ({
          id: r.id,
          tenantId: r.tenant_id,
          actorType: r.actor_type as ActorType,
          actorId: r.actor_id,
          intent: r.intent,
          rerun: true,
          claim: r.runs,
        })),
    );
    return rows.rows.length;
  }

  /** One statement for every claim due; a claim another process has taken over is given up. */
  private async renewClaims(): Promise<void> {
    const now = performance.now();
    const due = [...this.held].filter(([, c]) => c.renewAt <= now).map(([id, c]) => ({ id, runs: c.runs }));
    if (due.length === 0) return;
    const { rows } = await sql<{ id: string }>`
      update effect_intents e set claimed_until = now() + ${`${this.claimMs} milliseconds`}::interval
        from jsonb_to_recordset(${JSON.stringify(due)}::jsonb) as c(id text, runs int)
       where e.id = c.id and e.runs = c.runs
      returning e.id`.execute(this.o.dispatcherDb);
    const renewed = new Set(rows.map((r) => r.id));
    const renewAt = performance.now() + this.claimMs / 2;
    for (const { id, runs } of due) {
      const claim = this.held.get(id);
      if (!claim || claim.runs !== runs) continue;
      if (renewed.has(id)) claim.renewAt = renewAt;
      // Finished (the row is gone) or taken over: either way, nothing more to renew. Not started yet
      // and taken over: it is not run here (run() checks).
      else claim.renewAt = Number.POSITIVE_INFINITY;
    }
  }

  private pump(): void {
    for (let job = this.queue.take(); job; job = this.queue.take()) {
      const started = job;
      this.active++;
      void this.run(started).finally(() => {
        this.active--;
        this.queue.done(started);
        this.held.delete(started.id);
        this.pump();
        if (this.active === 0 && this.queue.size === 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const f of w) f();
        }
      });
    }
  }

  private async run(job: EffectJob): Promise<void> {
    if (this.held.get(job.id)?.renewAt === Number.POSITIVE_INFINITY) {
      // Its claim was not renewed before the call began: another process runs it, or it is done.
      this.o.log?.('effect intent given up: its claim was taken over', { intentId: job.id });
      return;
    }
    const started = performance.now();
    const intent = job.intent;
    let outcome: EffectOutcomeEvent;
    try {
      const r = await this.execute(job);
      // A vendor-chosen PIN is sealed here, before it reaches the actor's journal.
      outcome = effectDone(
        intent,
        this.o.clock.now().toISOString(),
        r.vendorRef,
        r.pin ? this.o.secrets.seal(r.pin) : undefined,
      );
    } catch (e) {
      outcome = effectFailed(intent, this.o.clock.now().toISOString(), toEffectError(e));
    }
    this.o.onOutcome?.(
      intent.vendor,
      intent.intent,
      outcome.type.startsWith('effect.done') ? 'done' : 'failed',
      performance.now() - started,
    );
    try {
      await this.o.mailbox.send(
        { type: job.actorType, id: job.actorId },
        { tenantId: job.tenantId, event: outcome },
        `${job.id}:outcome`,
      );
    } catch (e) {
      // Left claimed: the sweeper runs it again once the claim lapses.
      this.o.log?.('could not deliver an effect outcome', { intentId: job.id, err: String(e) });
      return;
    }
    this.doneIds.push(job.id);
    this.flushing ??= Promise.resolve().then(() => this.flushDone());
  }

  private async execute(job: EffectJob): Promise<{ vendorRef: string | null; pin?: string }> {
    const intent = job.intent;
    const { adapter, breaker } = await this.o.adapters.resolve(
      job.tenantId,
      intent.propertyId,
      intent.vendor,
    );
    return breaker.call(async () => {
      if (intent.intent === 'issueGrant') {
        const r = await adapter.issueCredential({
          operationId: intent.operationId,
          lockRef: intent.vendorDeviceRef,
          kind: intent.kind,
          validFrom: new Date(intent.validFrom),
          validUntil: new Date(intent.validUntil),
          // The sealed secret is the PIN, or for a card the card's number.
          pin: intent.kind === 'pin' && intent.secret ? this.o.secrets.open(intent.secret) : null,
          cardNumber: intent.kind === 'card' && intent.secret ? this.o.secrets.open(intent.secret) : null,
          recipient:
            intent.kind === 'mobile_key' && intent.secret ? this.o.secrets.open(intent.secret) : null,
          lookupFirst: job.rerun || intent.attempt > 1,
        });
        return r;
      }
      if (intent.intent === 'modifyGrant') {
        const r = await adapter.modifyValidity({
          issueOperationId: intent.issueOperationId,
          lockRef: intent.vendorDeviceRef,
          kind: intent.kind,
          vendorRef: intent.vendorRef,
          validFrom: new Date(intent.validFrom),
          validUntil: new Date(intent.validUntil),
        });
        // The machine re-issues on a permanent failure; this vendor cannot change the window in place.
        if (r.outcome === 'reissue_required')
          throw new VendorError('REISSUE_REQUIRED', 'the vendor cannot change validity in place');
        return { vendorRef: r.vendorRef };
      }
      await adapter.revokeCredential({
        issueOperationId: intent.issueOperationId,
        lockRef: intent.vendorDeviceRef,
        kind: intent.kind,
        vendorRef: intent.vendorRef,
      });
      return { vendorRef: null };
    });
  }

  /** Deletes finished intents in batches: one statement for many outcomes. */
  private async flushDone(): Promise<void> {
    while (this.doneIds.length > 0) {
      const ids = this.doneIds;
      this.doneIds = [];
      try {
        await this.o.dispatcherDb.deleteFrom('effect_intents').where('id', 'in', ids).execute();
      } catch (e) {
        // Harmless: a finished intent that stays is run again by the sweeper, idempotently.
        this.o.log?.('could not mark intents done', { err: String(e) });
      }
    }
    this.flushing = null;
  }
}

/** A failure as the machine sees it: normalized code, retryable or not. No secrets, no stack. */
export function toEffectError(e: unknown): EffectError {
  if (e instanceof VendorError) {
    return {
      code: e.failure,
      message: e.vendorDetail,
      retryable: e.retryable,
      ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
    };
  }
  if (isLockError(e)) return { code: e.code, message: e.detail ?? e.code, retryable: e.retryable };
  return { code: 'INTERNAL', message: ensureError(e).message, retryable: true };
}
