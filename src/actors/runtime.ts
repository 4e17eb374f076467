/**
 * The actor runtime of one process: partition leases, a worker per owned partition, group commit,
 * effects, durable timers, the outbox relay and state notifications. Seams (clock, options) are inputs.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '../ids.ts';
import type { SecretBox } from '../io/crypto/secretBox.ts';
import type { Db } from '../io/db/index.ts';
import type { Topology } from '../io/nats/index.ts';
import type { AdapterResolver } from '../io/vendors/adapterResolver.ts';
import type { EffectIntent, MessageIntent } from '../machines/index.ts';
import type { Metrics } from '../metrics.ts';
import { ActorHost } from './actorHost.ts';
import { createCommitBatcher } from './commitBatcher.ts';
import { DrainLoop } from './drainLoop.ts';
import { EffectRunner, type TurnJob } from './effectRunner.ts';
import { PartitionLeases } from './leases.ts';
import { createLocalFirstMailbox, type LocalFirstMailbox } from './localMailbox.ts';
import { type ActorMailbox, createActorMailbox } from './mailbox.ts';
import { publishNotification, type StateNotification } from './notifications.ts';
import { type InspectionEvent, inspectionOf } from '../observability/inspection.ts';
import { OutboxRelay } from './outboxRelay.ts';
import { type ActorAddress, partitionOf } from './partitioning.ts';
import { PartitionWorker } from './partitionWorker.ts';
import { TimerDispatcher } from './timerDispatcher.ts';

export interface RuntimeOptions {
  owner: string;
  leaseTtlMs: number;
  ackWaitMs: number;
  effectTimeoutMs: number;
  passivateEachMessage?: boolean;
  /** Unacknowledged actor messages in flight per partition (default 256). */
  maxInFlightPerPartition?: number;
  /** How often the streams are checked and created again if an operator removed them (default 2 s). */
  topologyCheckMs?: number;
  passivateIdleMs?: number;
  maxResident?: number;
  timerPollMs?: number;
  /** How long a delivered timer waits for its actor before it is delivered again (30 s). */
  timerRedeliverMs?: number;
  sweepEveryMs?: number;
  effectClaimMs?: number;
  /** Vendor calls of a new credential's issue in its turn (on unless false: see ServiceSettings). */
  callsInTurn?: boolean;
}

export interface RuntimeDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Opens (creating if absent) the partition lease bucket: at start, and again if it is removed. */
  openLeaseBucket: () => Promise<KV>;
  /** Creates whichever of the service's streams is missing. */
  ensureStreams: () => Promise<void>;
  topology: Topology;
  runtimeDb: Db;
  dispatcherDb: Db;
  /** The outbox relay's own connection (a pool of one, as the dispatcher role): see OutboxRelay. */
  relayDb: Db;
  adapters: AdapterResolver;
  secrets: SecretBox;
  clock: Clock;
  metrics: Metrics;
  log: (msg: string, data?: Record<string, unknown>) => void;
  options: RuntimeOptions;
  /**
   * Tells waiters of a committed transition (default: published on core NATS with `nc`). The service
   * publishes on a connection that does not hear itself and tells its own gateway in process.
   */
  notify?: (n: StateNotification) => void;
  /** Told every committed transition's inspection events, after its commit (the inspector's feed). */
  onInspection?: (events: InspectionEvent[]) => void;
}

export interface Runtime {
  mailbox: ActorMailbox;
  /**
   * `inner`, delivering in process to the actors whose partitions this process owns (`localMailbox.ts`): for
   * senders that keep their message in PostgreSQL until the actor's commit releases it.
   */
  localFirst(inner: ActorMailbox): ActorMailbox;
  /**
   * A message its sender journaled already, claimed by the journal's own statement (`claim` 0): the effect runner
   * sends it (in process when it can) and holds its claim meanwhile, as for the messages its commits journal, so
   * a new actor's vendor calls may run in its turn.
   */
  handOver(message: JournaledHandOver): void;
  ownedPartitions(): number[];
  residentActors(): number;
  /** Resolves when no commit or effect is in flight (tests, graceful stop). */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/** A message journaled by its sender (an effect intent row of its own id), for `Runtime.handOver`. */
export interface JournaledHandOver {
  id: string;
  tenantId: string;
  to: ActorAddress;
  intent: MessageIntent;
  trace?: string;
}

/** A credential's outcome (its domain event) and how long it took: the issuance and revoke SLOs' measures. */
function observeCredential(
  metrics: Metrics,
  subject: string,
  context: unknown,
  where: { tenantId: string; propertyId: unknown },
): void {
  const verb = /\.key_credential\.(issued|failed|revoked|expired)\.v1$/.exec(subject)?.[1];
  if (!verb) return;
  // A credential that fails after it was issued (a lock lost it for good) is not an issue that failed: an
  // issued one has recorded the PINs its issue gave (`pinsAtIssue`, an array, empty for other kinds).
  if (verb === 'failed' && Array.isArray((context as { pinsAtIssue?: unknown }).pinsAtIssue)) return;
  metrics.credentialOutcomes.inc({ outcome: verb });
  if (typeof where.propertyId === 'string')
    metrics.propertyOutcomes.inc({
      ...metrics.propertyLabels(where.tenantId, where.propertyId),
      outcome: verb,
    });
  const c = context as { createdAt?: string; closeRequestedAt?: string };
  const since = (at: string | undefined) => (at ? (Date.now() - Date.parse(at)) / 1000 : Number.NaN);
  if (verb === 'issued') {
    const s = since(c.createdAt);
    if (s >= 0) metrics.issueSeconds.observe(s);
  } else if (verb === 'revoked' || verb === 'expired') {
    const s = since(c.closeRequestedAt);
    if (s >= 0) metrics.revokeSeconds.observe(s);
  }
}

/** The actor's property as its context names it (the inspector's filter reads the same field). */
function propertyOf(context: unknown): { propertyId?: string } {
  const p = (context as { propertyId?: unknown } | null)?.propertyId;
  return typeof p === 'string' ? { propertyId: p } : {};
}

export async function startRuntime(d: RuntimeDeps): Promise<Runtime> {
  const { topology: t, metrics, options } = d;
  const mailbox = createActorMailbox(d.js, t);
  const workers = new Map<number, PartitionWorker>();
  const localMailboxes: LocalFirstMailbox[] = [];
  const localFirst = (inner: ActorMailbox): LocalFirstMailbox => {
    const m = createLocalFirstMailbox(inner, {
      ownerOf(address) {
        const partition = partitionOf(address.type, address.id, t.partitions);
        const worker = workers.get(partition);
        return worker ? { worker, partition } : undefined;
      },
      log: d.log,
    });
    localMailboxes.push(m);
    return m;
  };
  // Effects and timers keep their rows until the receiving actor's commit releases them.
  const delivery = localFirst(mailbox);
  const localIdle = () => Promise.all(localMailboxes.map((m) => m.idle()));
  const host = new ActorHost({
    runtimeDb: d.runtimeDb,
    clock: d.clock,
    eventsRoot: t.eventsRoot,
    maxResident: options.maxResident,
    passivateEachMessage: options.passivateEachMessage,
    onActivation: (ms, found) => metrics.activations.observe({ found: String(found) }, ms / 1000),
  });
  const batcher = createCommitBatcher(d.runtimeDb, {
    effectClaimMs: options.effectClaimMs,
    onBatch: (size, ms) => {
      metrics.commitBatch.observe(size);
      metrics.commitSeconds.observe(ms / 1000);
    },
  });
  const callsInTurn = options.callsInTurn !== false;
  const effects = new EffectRunner({
    dispatcherDb: d.dispatcherDb,
    mailbox: delivery,
    adapters: d.adapters,
    secrets: d.secrets,
    clock: d.clock,
    timeoutMs: options.effectTimeoutMs,
    sweepEveryMs: options.sweepEveryMs,
    claimMs: options.effectClaimMs,
    onOutcome: (vendor, intent, outcome, ms) =>
      metrics.effects.observe({ vendor, intent, outcome }, ms / 1000),
    log: d.log,
    callsInTurn,
  });
  const timers = new TimerDispatcher({
    dispatcherDb: d.dispatcherDb,
    mailbox: delivery,
    pollMs: options.timerPollMs,
    ...(options.timerRedeliverMs !== undefined ? { redeliverMs: options.timerRedeliverMs } : {}),
    log: d.log,
  });
  const notify = d.notify ?? ((n: StateNotification) => publishNotification(d.nc, t.stateRoot, n));
  const relay = new OutboxRelay({
    relayDb: d.relayDb,
    js: d.js,
    onPublished: (n) => metrics.outboxPublished.inc(n),
    log: d.log,
  });
  const leases = new PartitionLeases({
    openBucket: d.openLeaseBucket,
    runtimeDb: d.runtimeDb,
    owner: options.owner,
    partitions: t.partitions,
    ttlMs: options.leaseTtlMs,
    log: d.log,
    async onAcquired(p, fence) {
      const w = new PartitionWorker(p, fence, {
        js: d.js,
        jsm: d.jsm,
        topology: t,
        host,
        batcher,
        runtimeDb: d.runtimeDb,
        ackWaitMs: options.ackWaitMs,
        maxInFlight: options.maxInFlightPerPartition,
        log: d.log,
        onRejected: (code) => metrics.rejected.inc({ code }),
        ...(callsInTurn
          ? {
              callsInTurn: {
                eligible: (intent: EffectIntent, sender: string) => effects.runsInTurnOf(intent, sender),
                run: (job: TurnJob) => effects.runInTurn(job),
              },
            }
          : {}),
        onCommitted(address, outcome) {
          const c = outcome.commit;
          const steps = outcome.steps ?? [outcome];
          for (const s of steps) metrics.transitions.inc({ type: c.actorType, status: s.status });
          for (const o of c.outbox) {
            if (o.subject.endsWith('.revoke_stalled.v1')) metrics.revokeStalled.inc();
            else if (c.actorType === 'credential')
              observeCredential(metrics, o.subject, outcome.snapshot.context, {
                tenantId: c.tenantId,
                propertyId: o.payload.propertyId,
              });
          }
          notify({
            tenantId: c.tenantId,
            type: c.actorType,
            id: c.actorId,
            version: c.version,
            status: outcome.status,
            state: outcome.snapshot.value,
            msgId: c.msgId,
            event: outcome.event.type,
            ...propertyOf(outcome.snapshot.context),
            readModel: c.readModel,
          });
          if (d.onInspection) {
            try {
              for (const s of steps)
                d.onInspection(
                  inspectionOf({
                    tenantId: c.tenantId,
                    actorType: c.actorType,
                    actorId: c.actorId,
                    first: s.commit.expectedVersion === 0,
                    version: s.commit.version,
                    event: s.event,
                    ...(s.intentId ? { intentId: s.intentId } : {}),
                    snapshot: {
                      value: s.snapshot.value,
                      context: s.snapshot.context,
                      status: s.snapshot.status,
                    },
                    before: { value: s.previous.value, context: s.previous.context },
                  }),
                );
            } catch (e) {
              // Inspection never stands in the way of the work it watches.
              d.log('inspection failed', { err: String(e) });
            }
          }
          if (c.consumedIntents.length > 0) effects.released(c.consumedIntents);
          if (c.intents.length > 0) {
            effects.submit(
              c.intents.map((i) => ({
                id: i.id,
                tenantId: c.tenantId,
                actorType: address.type,
                actorId: address.id,
                intent: i.intent,
                // An earlier run may have made it (its message said `again`, or its turn ran it uncommitted).
                rerun: outcome.again === true,
                claim: 0,
                ...(c.trace ? { trace: c.trace } : {}),
              })),
            );
          }
          if (c.outbox.length > 0) relay.nudge();
        },
      });
      workers.set(p, w);
      await w.start();
      metrics.ownedPartitions.set(workers.size);
    },
    async onLost(p) {
      const w = workers.get(p);
      workers.delete(p);
      metrics.ownedPartitions.set(workers.size);
      await w?.stop();
      host.evictWhere((type, id) => partitionOf(type, id, t.partitions) === p);
    },
  });

  effects.start();
  timers.start();
  relay.start();
  await leases.start();
  const idleSweep = setInterval(() => {
    host.passivateIdle(options.passivateIdleMs ?? 120_000);
    metrics.residentActors.set(host.residentCount);
  }, 10_000);
  // An operator may remove a stream (or recreate it empty): it is created again, and the partition workers
  // and the lease bucket open what they need again by themselves.
  const topologyKeeper = new DrainLoop(() => d.ensureStreams().then(() => 0), {
    everyMs: options.topologyCheckMs ?? 2000,
    onError: (e) => d.log('could not check the streams', { err: String(e) }),
  });
  topologyKeeper.start();

  return {
    mailbox,
    localFirst,
    handOver: (m) =>
      effects.submit([
        {
          id: m.id,
          tenantId: m.tenantId,
          actorType: m.to.type,
          actorId: m.to.id,
          intent: m.intent,
          rerun: false,
          claim: 0,
          ...(m.trace ? { trace: m.trace } : {}),
        },
      ]),
    ownedPartitions: () => leases.owned(),
    residentActors: () => host.residentCount,
    async settle() {
      // Each step can start the next (an effect's answer handed over, its commit's effects): until all rest.
      for (;;) {
        await batcher.idle();
        await effects.idle();
        if (localMailboxes.every((m) => m.inFlight() === 0)) return;
        await localIdle();
      }
    },
    async stop() {
      clearInterval(idleSweep);
      await topologyKeeper.stop();
      await leases.stop();
      // What the stopped workers did not apply has been sent on through the inbox stream by now.
      await localIdle();
      await batcher.idle();
      await effects.stop();
      await timers.stop();
      await relay.stop();
    },
  };
}
