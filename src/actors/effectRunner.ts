/**
 * Runs journaled intents after their transaction committed: vendor calls, whose outcome goes back to the
 * actor as an ordinary message, and messages to other actors. An intent's row is removed only by the commit
 * of the actor that applies its outcome (or its message) — PostgreSQL, not JetStream, is the record: if the
 * message is lost, the row is still there and a sweeper sends it again.
 *
 * - After a vendor call, its outcome is published and then kept in the row (`outcome`): a sweeper whose
 *   claim finds an outcome sends that answer again instead of calling the vendor again.
 * - A vendor call whose runner died before it kept the outcome is run again by a sweeper (adapters are
 *   idempotent under the operation id: a second run finds what the first made), but only while its row
 *   still exists at the sweeper's claim: once the actor has applied an outcome the row is gone, and a
 *   finished call is never run after the actor moved on.
 * - A claim lasts `claimMs`; this process renews the claims of the intents it holds (queued behind a busy
 *   lock or a vendor's bulkhead, or in a slow vendor call) while it lives, and while a graceful stop drains.
 *   Otherwise another process's sweeper could run an intent still running here, and two concurrent runs can
 *   both find nothing and both create (TTLock: two passcodes). A claim is held at a `runs` count; when
 *   renewal finds the count moved on, another process took the intent over and this one drops it if it has
 *   not started.
 */
import { SpanKind } from '@opentelemetry/api';
import { sql } from 'kysely';
import { ensureError, isLockError } from '../errors.ts';
import type { Clock } from '../ids.ts';
import type { SecretBox } from '../io/crypto/secretBox.ts';
import type { Db } from '../io/db/index.ts';
import type { AdapterResolver } from '../io/vendors/adapterResolver.ts';
import { VendorError } from '../io/vendors/port.ts';
import { issuesAtOnce } from '../io/vendors/registry.ts';
import { contextFromTraceparent, inSpan } from '../observability/tracing.ts';
import {
  type EffectError,
  type EffectIntent,
  type EffectOutcomeEvent,
  effectDone,
  effectFailed,
  type VendorIntent,
} from '../machines/index.ts';
import { whenAborted } from './abortWaiters.ts';
import { DrainLoop } from './drainLoop.ts';
import { eventProblem } from './eventSchemas.ts';
import type { ActorMailbox } from './mailbox.ts';
import { type ActorType, actorTypes } from './partitioning.ts';
import { type BulkheadJob, VendorBulkhead } from './vendorBulkhead.ts';

export interface EffectJob {
  id: string;
  tenantId: string;
  actorType: ActorType;
  actorId: string;
  intent: EffectIntent;
  /** True when this job may already have run (sweeper): the adapter looks up before it creates. */
  rerun: boolean;
  /** The intent's `runs` when this process claimed it (0: claimed by its own commit). */
  claim: number;
  /** An outcome kept from an earlier run: sent again, the vendor is not called. */
  outcome?: EffectOutcomeEvent;
  /** The `traceparent` of the commit that journaled it: its run continues that trace. */
  trace?: string;
  /**
   * Run in its actor's turn (`runInTurn`): it has no row, no claim and no message; its answer is handed back
   * here, and the actor's commit applies it with the transition that asked for it.
   */
  answer?: (outcome: EffectOutcomeEvent) => void;
  /** For a job run in its actor's turn: whether it may start now (false: it has been answered, not made). */
  start?: () => boolean;
}

/** A vendor call to run in its actor's turn (`runInTurn`). */
export type TurnJob = Omit<EffectJob, 'claim' | 'answer' | 'start' | 'outcome'> & {
  /** The intent id of the message whose turn this is. */
  sender: string;
  /** Aborted when the worker stops: a call not started yet is answered BUSY, not made. */
  signal: AbortSignal;
};

/** A claim this process holds, when it was last confirmed, and when it renews it (half its life before it lapses). */
interface HeldClaim {
  runs: number;
  renewAt: number;
  confirmedAt: number;
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
  /** Vendor calls may run in actors' turns: the claims of the messages handed over are noted for them. */
  callsInTurn?: boolean;
}

export class EffectRunner {
  private readonly queue: VendorBulkhead<EffectJob & BulkheadJob>;
  /** The intents this process holds, queued or running, by id. */
  private readonly held = new Map<string, HeldClaim>();
  private active = 0;
  /** Delivered outcomes to keep in their rows, by intent id, until the next flush. */
  private outcomes = new Map<string, EffectOutcomeEvent>();
  private flushing: Promise<void> | null = null;
  /**
   * Messages this runner sent (first sends), by intent id: the claim count it held them at, and when that claim
   * lapses (`performance.now()`). The actor's commit releases them (`released`); lapsed ones are dropped by the
   * sweep.
   */
  private readonly handedOver = new Map<string, { runs: number; lapses: number }>();
  /** Calls queued or running in the turn of a message, by the message's intent id: its claim is held meanwhile. */
  private readonly turnsOf = new Map<string, number>();
  /** One sweep at a time (a slow one is not overlapped by the next); one pass per interval. */
  private readonly sweeping: DrainLoop;
  /** Stopping: claims are renewed until the drain ends, nothing new is claimed. */
  private draining = false;
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

  /**
   * Graceful stop: takes nothing new, lets what it holds finish, and keeps renewing those claims until the
   * last one is done, so no other process runs them beside it meanwhile.
   */
  async stop(): Promise<void> {
    this.draining = true;
    await this.idle();
    await this.sweeping.stop();
  }

  private get claimMs(): number {
    return this.o.claimMs ?? 30_000;
  }

  submit(jobs: EffectJob[]): void {
    const renewAt = performance.now() + this.claimMs / 2;
    for (const j of jobs) {
      if (this.held.has(j.id)) continue;
      this.held.set(j.id, { runs: j.claim, renewAt, confirmedAt: performance.now() });
      const i = j.intent;
      this.queue.push({
        ...j,
        // Messages to actors and answers kept from earlier runs touch no lock: a lane of their own.
        vendor: i.intent === 'sendMessage' || j.outcome ? '~messages' : i.vendor,
        lockKey:
          i.intent === 'sendMessage' || j.outcome
            ? `~${j.id}`
            : `${j.tenantId}:${i.vendor}:${i.vendorDeviceRef}`,
        priority: i.intent === 'sendMessage' ? i.event.priority === true : i.priority === true,
      });
    }
    this.pump();
  }

  /**
   * Whether an intent may run in its actor's turn, before the transition that asked for it is committed
   * (`partitionWorker.ts`): an issue, unless the vendor chooses the PIN (a second run could get another, so
   * the first must be kept at once) or the issue can wait on a person (a card at a desk encoder).
   */
  static runsInTurn(intent: EffectIntent): intent is VendorIntent {
    return intent.intent === 'issueGrant' && issuesAtOnce(intent.vendor, intent.kind);
  }

  /**
   * Whether `intent` may run in the turn of the message this runner handed over as `sender` (a first send):
   * only while this runner holds the claim on that message (the sender's record) with time to renew it. From
   * when the call is queued until it has answered, the runner renews that claim as it renews its own (`held`),
   * so no sweeper resends the message meanwhile, and it reaches no other process: the call cannot run beside
   * another run of it while this process lives.
   */
  runsInTurnOf(intent: EffectIntent, sender: string): boolean {
    const h = this.handedOver.get(sender);
    return (
      EffectRunner.runsInTurn(intent) &&
      h !== undefined &&
      h.lapses - performance.now() > 2 * (this.o.sweepEveryMs ?? 2000)
    );
  }

  /**
   * Runs a vendor call for its actor's turn: through the same bulkhead as every other call (one at a time per
   * lock, in arrival order), answered here instead of through the actor's inbox. Not made, and answered BUSY
   * (the grant retries it after its commit), if its message's claim could not be kept, or once its worker
   * stops (`signal`: a queued call is answered at once, so a stopping worker waits for calls already made only).
   */
  runInTurn(job: TurnJob): Promise<EffectOutcomeEvent> {
    const { sender, signal, ...rest } = job;
    const i = rest.intent as VendorIntent;
    this.holdForTurn(sender);
    return new Promise((resolve) => {
      let settled = false;
      let started = false;
      const answer = (o: EffectOutcomeEvent) => {
        if (settled) return;
        settled = true;
        forget();
        this.releaseTurn(sender);
        resolve(o);
      };
      const busy = (why: string) =>
        answer(
          effectFailed(i, this.o.clock.now().toISOString(), { code: 'BUSY', message: why, retryable: true }),
        );
      const onAbort = () => {
        if (!started) busy(`${NOT_MADE}: its worker stopped`);
      };
      const forget = whenAborted(signal, onAbort);
      if (signal.aborted) onAbort();
      this.queue.push({
        ...rest,
        claim: 0,
        answer,
        start: () => {
          if (settled) return false;
          const held = this.held.get(sender);
          // The message's claim was lost (taken over, or this process stalled past it): not made.
          if (
            !held ||
            held.renewAt === Number.POSITIVE_INFINITY ||
            performance.now() > held.confirmedAt + this.claimMs * 0.9
          ) {
            busy(`${NOT_MADE}: its message claim could not be kept`);
            return false;
          }
          started = true;
          return true;
        },
        vendor: i.vendor,
        lockKey: `${job.tenantId}:${i.vendor}:${i.vendorDeviceRef}`,
        priority: i.priority === true,
      });
      this.pump();
    });
  }

  /** A call in the turn of `sender` is queued: that message's claim is held (renewed) until the last one answers. */
  private holdForTurn(sender: string): void {
    const n = this.turnsOf.get(sender) ?? 0;
    this.turnsOf.set(sender, n + 1);
    if (n > 0 || this.held.has(sender)) return;
    const h = this.handedOver.get(sender);
    if (!h) return;
    // Renewed, as this runner's own claims are, from half its life (at the next sweep if that has passed).
    const confirmedAt = h.lapses - this.claimMs * 0.9;
    this.held.set(sender, { runs: h.runs, renewAt: confirmedAt + this.claimMs / 2, confirmedAt });
  }

  private releaseTurn(sender: string): void {
    const n = (this.turnsOf.get(sender) ?? 1) - 1;
    if (n > 0) {
      this.turnsOf.set(sender, n);
      return;
    }
    this.turnsOf.delete(sender);
    this.held.delete(sender);
  }

  /** Resolves when nothing is queued, running or waiting to be recorded. */
  async idle(): Promise<void> {
    while (this.active > 0 || this.queue.size > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
    await this.flushOutcomes();
  }

  /**
   * Renews the claims this process holds that are half-way to lapsing, then (unless stopping) claims
   * intents whose claim lapsed — their runner died, or their outcome or message was not applied in time —
   * and sends them again.
   */
  async sweep(): Promise<number> {
    const now = performance.now();
    for (const [id, h] of this.handedOver)
      if (h.lapses < now && !this.turnsOf.has(id)) this.handedOver.delete(id);
    await this.renewClaims();
    if (this.draining) return 0;
    const rows = await sql<{
      id: string;
      tenant_id: string;
      actor_type: string;
      actor_id: string;
      intent: EffectIntent;
      runs: number;
      outcome: EffectOutcomeEvent | null;
      trace: string | null;
    }>`
      update effect_intents set claimed_until = now() + ${`${this.claimMs} milliseconds`}::interval, runs = runs + 1
       where id in (select id from effect_intents where claimed_until < now()
                     order by claimed_until limit 200 for update skip locked)
      returning id, tenant_id, actor_type, actor_id, intent, runs, outcome, trace
    `.execute(this.o.dispatcherDb);
    for (const r of rows.rows) {
      // Ours, and lapsed all the same (this process stalled past its claim): it is the sweep's claim now.
      const mine = this.held.get(r.id);
      if (mine)
        Object.assign(mine, {
          runs: r.runs,
          renewAt: performance.now() + this.claimMs / 2,
          confirmedAt: performance.now(),
        });
    }
    this.submit(
      rows.rows
        .filter((r) => !this.held.has(r.id) && (actorTypes as readonly string[]).includes(r.actor_type))
        .map((r) => ({
          id: r.id,
          tenantId: r.tenant_id,
          actorType: r.actor_type as ActorType,
          actorId: r.actor_id,
          intent: r.intent,
          rerun: true,
          claim: r.runs,
          ...(r.outcome ? { outcome: r.outcome } : {}),
          ...(r.trace ? { trace: r.trace } : {}),
        })),
    );
    return rows.rows.length;
  }

  /**
   * One statement for every claim due; a claim another process has taken over is given up. Rows a commit is
   * deleting (their outcome applied) are skipped, not waited for: waiting on them while the commit waits on
   * ours was a deadlock (PostgreSQL breaks one after a second). A claim is given up only once a plain read
   * shows its row gone or taken over.
   */
  private async renewClaims(): Promise<void> {
    const now = performance.now();
    const due = [...this.held].filter(([, c]) => c.renewAt <= now).map(([id, c]) => ({ id, runs: c.runs }));
    if (due.length === 0) return;
    const { rows } = await sql<{ id: string }>`
      with mine as (
        select e.id from effect_intents e
          join jsonb_to_recordset(${JSON.stringify(due)}::jsonb) as c(id text, runs int)
            on e.id = c.id and e.runs = c.runs
         order by e.id for update of e skip locked)
      update effect_intents e set claimed_until = now() + ${`${this.claimMs} milliseconds`}::interval
        from mine where e.id = mine.id
      returning e.id`.execute(this.o.dispatcherDb);
    const renewed = new Set(rows.map((r) => r.id));
    const missed = due.filter((d) => !renewed.has(d.id));
    const stillMine = new Set<string>();
    if (missed.length > 0) {
      const found = await sql<{ id: string }>`
        select e.id from effect_intents e
          join jsonb_to_recordset(${JSON.stringify(missed)}::jsonb) as c(id text, runs int)
            on e.id = c.id and e.runs = c.runs`.execute(this.o.dispatcherDb);
      for (const r of found.rows) stillMine.add(r.id);
    }
    const renewAt = performance.now() + this.claimMs / 2;
    for (const { id, runs } of due) {
      const claim = this.held.get(id);
      if (!claim || claim.runs !== runs) continue;
      if (renewed.has(id)) Object.assign(claim, { renewAt, confirmedAt: performance.now() });
      // Locked by a commit right now: tried again at the next sweep.
      else if (stillMine.has(id)) continue;
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
        // A message handed over in process whose turn is calling holds its claim until the calls answer.
        // A job run in a turn has no claim of its own: it never drops one (a row of the same id may be held).
        if (!started.answer && !this.turnsOf.has(started.id)) this.held.delete(started.id);
        this.pump();
        if (this.active === 0 && this.queue.size === 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const f of w) f();
        }
      });
    }
  }

  /** One intent in a span of its own, continuing the trace of the commit that journaled it. */
  private run(job: EffectJob): Promise<void> {
    const i = job.intent;
    return inSpan(
      `effect ${i.intent}`,
      {
        attributes: {
          'lock.actor': `${job.actorType}/${job.actorId}`,
          'lock.intent': job.id,
          'lock.rerun': job.rerun,
          ...(i.intent !== 'sendMessage' ? { 'lock.vendor': i.vendor } : {}),
        },
      },
      () => this.runJob(job),
      contextFromTraceparent(job.trace),
    );
  }

  private async runJob(job: EffectJob): Promise<void> {
    if (job.answer && job.intent.intent !== 'sendMessage') {
      if (job.start?.() === false) return;
      job.answer(await this.callVendor(job, job.intent));
      return;
    }
    if (this.held.get(job.id)?.renewAt === Number.POSITIVE_INFINITY) {
      // Its claim was not renewed before the call began: another process runs it, or it is done.
      this.o.log?.('effect intent given up: its claim was taken over', { intentId: job.id });
      return;
    }
    const intent = job.intent;
    // A sweeper's send gets a message id of its own: JetStream keeps the ids of messages it has since lost
    // and would drop it as a duplicate; the receiving actor recognizes a repeat by its state.
    const again = job.rerun ? `:r${job.claim}` : '';
    if (intent.intent === 'sendMessage') {
      const held = this.held.get(job.id);
      // The claim was taken a little before it was confirmed here (the commit's own start): a tenth to spare.
      if (this.o.callsInTurn && !job.rerun && held)
        this.handedOver.set(job.id, { runs: held.runs, lapses: held.confirmedAt + this.claimMs * 0.9 });
      const fresh = intent.newActor === true && !job.rerun;
      if (
        !(await this.deliver(job, intent.to, intent.event, `${intent.operationId}${again}`, intent.by, fresh))
      )
        this.handedOver.delete(job.id);
      return;
    }
    if (job.outcome) {
      await this.deliver(
        job,
        { type: job.actorType, id: job.actorId },
        job.outcome,
        `${job.id}:outcome${again}`,
      );
      return;
    }
    // A rerun only while its row is still there at this claim (gone, its outcome has been applied); and any
    // call whose claim may have lapsed meanwhile (this process stalled) only once the claim is confirmed.
    const held = this.held.get(job.id);
    const unsure = !held || performance.now() - held.confirmedAt > this.claimMs * 0.75;
    if ((job.rerun || unsure) && !(await this.confirm(job))) return;
    const outcome = await this.callVendor(job, intent);
    if (
      await this.deliver(job, { type: job.actorType, id: job.actorId }, outcome, `${job.id}:outcome${again}`)
    ) {
      this.outcomes.set(job.id, outcome);
      if ('vendorSecret' in outcome && outcome.vendorSecret) {
        // A PIN the vendor chose: kept at once, so a crash never makes a second run ask the vendor again (a
        // vendor may choose another).
        void this.flushOutcomes();
      } else {
        // Kept a moment later, not at once: an answer delivered in process is usually applied by then (its
        // commit releases the row, and `released` drops it here), and keeping it would be a write for nothing.
        this.flushing ??= new Promise<void>((r) => setTimeout(r, KEEP_OUTCOME_AFTER_MS)).then(() =>
          this.flushOutcomes(),
        );
      }
    }
  }

  /** Calls the vendor for an intent; its answer as the message the actor applies (a failure too: never throws). */
  private async callVendor(job: EffectJob, intent: VendorIntent): Promise<EffectOutcomeEvent> {
    const started = performance.now();
    let outcome: EffectOutcomeEvent;
    try {
      const r = await inSpan(
        `vendor ${intent.vendor} ${intent.intent}`,
        { kind: SpanKind.CLIENT, attributes: { 'lock.vendor': intent.vendor } },
        () => this.execute(job, intent),
      );
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
    // An answer its actor would refuse (an odd vendor reference, say) would be sent again and again, and the
    // grant never learn anything: it is turned into a failure the grant retries.
    const problem = eventProblem(job.actorType, outcome);
    if (problem)
      outcome = effectFailed(intent, outcome.at, {
        code: 'INTERNAL',
        message: `the vendor's answer could not be used: ${problem}`.slice(0, MAX_ERROR_TEXT),
        retryable: true,
      });
    this.o.onOutcome?.(
      intent.vendor,
      intent.intent,
      outcome.type.startsWith('effect.done') ? 'done' : 'failed',
      performance.now() - started,
    );
    return outcome;
  }

  /** Sends to an actor's inbox, naming the intent its commit releases; false if it could not be sent. */
  private async deliver(
    job: EffectJob,
    to: { type: string; id: string },
    event: { type: string; at: string },
    msgId: string,
    by?: string,
    /** The actor cannot exist yet (`MessageIntent.newActor`, first send only). */
    newActor = false,
  ): Promise<boolean> {
    if (!(actorTypes as readonly string[]).includes(to.type)) {
      this.o.log?.('effect intent names no actor type; left for an operator', {
        intentId: job.id,
        to: to.type,
      });
      return false;
    }
    try {
      await this.o.mailbox.send(
        { type: to.type as ActorType, id: to.id },
        {
          tenantId: job.tenantId,
          event,
          intentId: job.id,
          ...(by !== undefined ? { by } : {}),
          // Sent again by a sweeper: it may have been applied, in part, in a turn that ended without a commit.
          ...(job.rerun ? { again: true as const } : {}),
          ...(newActor ? { newActor: true as const } : {}),
        },
        msgId,
      );
      return true;
    } catch (e) {
      // Left claimed: the sweeper sends it again once the claim lapses.
      this.o.log?.('could not deliver an effect intent', { intentId: job.id, err: String(e) });
      return false;
    }
  }

  /** Extends the claim if it is still this run's; false when the row is gone or another run took it. */
  private async confirm(job: EffectJob): Promise<boolean> {
    const { rows } = await sql<{ id: string }>`
      update effect_intents set claimed_until = now() + ${`${this.claimMs} milliseconds`}::interval
       where id = ${job.id} and runs = ${job.claim} returning id`.execute(this.o.dispatcherDb);
    const held = this.held.get(job.id);
    if (held && rows.length > 0) held.confirmedAt = performance.now();
    return rows.length > 0;
  }

  private async execute(
    job: EffectJob,
    intent: VendorIntent,
  ): Promise<{ vendorRef: string | null; pin?: string }> {
    const { adapter, breaker } = await this.o.adapters.resolve(
      job.tenantId,
      intent.propertyId,
      intent.vendor,
      {
        // A new credential on an adapter disabled meanwhile is refused; what exists is changed, revoked, or
        // replaced (a later generation keeps a staying guest's door). So is an issue an earlier run may have
        // made (a rerun, a later attempt): it looks up and adopts, or makes what was asked before the adapter
        // was disabled; refused, it would leave what that run made on the door, recorded nowhere.
        issue:
          intent.intent === 'issueGrant' && !(intent.generation ?? 0) && !(job.rerun || intent.attempt > 1),
        fresh: intent.intent === 'issueGrant' && (job.rerun || intent.attempt > 1),
      },
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
          site: { tenantId: job.tenantId, propertyId: intent.propertyId },
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
        site: { tenantId: job.tenantId, propertyId: intent.propertyId },
        lockRef: intent.vendorDeviceRef,
        kind: intent.kind,
        vendorRef: intent.vendorRef,
      });
      return { vendorRef: null };
    });
  }

  /**
   * Keeps delivered outcomes in their rows, in batches: one statement for many. A row already gone (the
   * actor applied the outcome first) is simply not there to update.
   */
  /** Intents whose outcome a commit in this process has applied (and released): nothing left to keep. */
  released(ids: readonly string[]): void {
    for (const id of ids) {
      this.outcomes.delete(id);
      this.handedOver.delete(id);
    }
  }

  private async flushOutcomes(): Promise<void> {
    while (this.outcomes.size > 0) {
      const batch = [...this.outcomes].map(([id, outcome]) => ({ id, outcome }));
      this.outcomes = new Map();
      try {
        // Rows a commit holds are being deleted by it (their outcome applied): skipped, never waited for (a
        // commit waiting on this statement's rows the while would be a deadlock).
        await sql`
          with mine as (
            select id from effect_intents where id = any(${batch.map((b) => b.id)}::text[])
             order by id for update skip locked)
          update effect_intents e
             set outcome = x.outcome, claimed_until = now() + ${`${this.claimMs} milliseconds`}::interval
            from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) as x(id text, outcome jsonb), mine
           where e.id = x.id and e.id = mine.id`.execute(this.o.dispatcherDb);
      } catch (e) {
        // Harmless: without a kept outcome, a sweeper runs the call again, idempotently.
        this.o.log?.('could not keep effect outcomes', { err: String(e) });
      }
    }
    this.flushing = null;
  }
}

/**
 * How long a delivered outcome waits before it is kept in its row. A crash in between loses nothing: without
 * a kept outcome, a sweeper runs the call again, and adapters are idempotent under the operation id.
 */
const KEEP_OUTCOME_AFTER_MS = 500;

/** How a call in a turn that was answered without being made says so (a rejection's note tells it apart). */
export const NOT_MADE = 'not made in its turn';

/** Vendors' error texts can be long; what an actor keeps of one is bounded (the mailbox refuses more). */
const MAX_ERROR_TEXT = 500;

/** A failure as the machine sees it: normalized code, retryable or not. No secrets, no stack. */
export function toEffectError(e: unknown): EffectError {
  if (e instanceof VendorError) {
    return {
      code: e.failure,
      message: e.vendorDetail.slice(0, MAX_ERROR_TEXT),
      retryable: e.retryable,
      ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
    };
  }
  if (isLockError(e)) return { code: e.code, message: e.detail ?? e.code, retryable: e.retryable };
  return { code: 'INTERNAL', message: ensureError(e).message, retryable: true };
}
