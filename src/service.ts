/**
 * Builds the whole service from explicit settings: database and roles, NATS streams and lease bucket,
 * vendor adapters, the actor runtime and the platform-event consumer. `main.ts` and the tests both use
 * it; neither reads anything it is not given.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect as natsConnect } from '@nats-io/transport-node';
import { sql } from 'kysely';
import {
  actorKinds,
  createActorMailbox,
  publishNotification,
  type Runtime,
  StateWatcher,
  startRuntime,
} from './actors/index.ts';
import type { StateNotification } from './actors/notifications.ts';
import { createJournaledMailbox } from './actors/journaledMailbox.ts';
import { IssueContextCache } from './issuance/issueContextCache.ts';
import type { Authenticator } from './gateway/auth.ts';
import type { GatewayPorts } from './gateway/ports.ts';
import type { WebhookInbox } from './gateway/webhooks/routes.ts';
import type { Clock } from './ids.ts';
import { hkdfSync } from 'node:crypto';
import { aesKek, type KeyEncryptionKey } from './io/crypto/keyEncryption.ts';
import { createSecretBox } from './io/crypto/secretBox.ts';
import { createTenantKeyring } from './io/crypto/tenantKeys.ts';
import { connect, ensureDatabase, migrateToLatest, withUser } from './io/db/index.ts';
import { checkSchema } from './io/db/schemaCheck.ts';
import { createWebhookInboxWriter } from './io/db/webhookInbox.ts';
import { ensureStreams, topology } from './io/nats/index.ts';
import { type AdapterFactory, createAdapterResolver } from './io/vendors/adapterResolver.ts';
import { allowedEnv, checkVendorConfig, type VendorConfigPolicy } from './io/vendors/vendorConfigPolicy.ts';
import { createVendorSecretStore } from './io/vendors/vendorSecrets.ts';
import { createDesktopAgents } from './desktop/agents.ts';
import { DesktopBus } from './desktop/desktopBus.ts';
import { createCertificateStore } from './desktop/certificateStore.ts';
import { localOfflineSigner, type OfflineSigner } from './io/crypto/offlineSigner.ts';
import { createWebhookEndpoints } from './io/vendors/webhookEndpoints.ts';
import { adapterFactories, needsHolderDetail, supportsKind } from './io/vendors/registry.ts';
import type { IssuanceDeps } from './issuance/credentialRequests.ts';
import { IdempotencyPruner } from './jobs/idempotencyPruner.ts';
import { VendorProbe } from './jobs/vendorProbe.ts';
import { OfflineCertCleanup } from './jobs/offlineCertCleanup.ts';
import { createReconciler } from './desktop/reconciliation.ts';
import type { InspectionEvent } from './observability/inspection.ts';
import { statelyInspectionSink } from './observability/statelyInspector.ts';
import { createInspectorStore } from './observability/inspectorStore.ts';
import { toMermaid } from './machines/lifecycleDoc.ts';
import { grantMachine } from './machines/index.ts';
import { type PlatformConsumerDeps, PlatformEventConsumer } from './jobs/platformEvents.ts';
import { WebhookRouter } from './jobs/webhookRouter.ts';
import type { RetryPolicy } from './machines/index.ts';
import { createMetrics } from './metrics.ts';
import { createReadModel } from './readModel/index.ts';

export interface ServiceSettings {
  /** A Stately inspector's WebSocket (`INSPECT_WS_URL`): every committed transition's inspection events go there. */
  inspectWsUrl?: string;
  databaseUrl: string;
  natsUrl: string;
  /** Migrate as the owner (`databaseUrl`'s user) at start: development; production runs `lock:cli migrate`. */
  migrateOnStart?: boolean;
  /** The runtime roles' passwords (production); none with trust or peer authentication. */
  rolePasswords?: { runtime?: string; dispatcher?: string };
  /** Stream/subject prefix; empty in production (the contract names). */
  prefix: string;
  partitions: number;
  owner: string;
  leaseTtlMs: number;
  ackWaitMs: number;
  effectTimeoutMs: number;
  breaker: { openAfterFailures: number; resetAfterMs: number };
  secretKeyId: string;
  secretKey: Buffer;
  vendorDefaults: Record<string, Record<string, unknown>>;
  /** The environment `env:NAME` references read from, where `vendorPolicy.envAllow` allows the tenant. */
  secrets: Record<string, string | undefined>;
  /** Simulated (default: every property on `vendorDefaults`) or live, with the egress and env allow-lists. */
  vendorPolicy?: VendorConfigPolicy;
  /**
   * Wraps each tenant's data key (vendor secrets): Cloud KMS or a local key file (main.ts). Tests and the
   * benchmark may leave it out: a key derived from `secretKey` then.
   */
  kek?: KeyEncryptionKey;
  /** Signs desk agents' offline-issuance certificates: Cloud KMS (main.ts); else derived from `secretKey`. */
  offlineSigner?: OfflineSigner;
  createPlatformStream: boolean;
  passivateEachMessage?: boolean;
  retry?: RetryPolicy;
  /**
   * Adapters made otherwise than the registry makes them, by vendor (the benchmark's zero-cost vendor, as
   * the peers' benchmarks have one). Not read from the environment: only code that starts the service sets it.
   */
  adapterFactories?: Record<string, AdapterFactory>;
  /** PIN source for issuance (tests make it predictable); random digits otherwise. */
  generatePin?: (digits: number) => string;
  timerPollMs?: number;
  sweepEveryMs?: number;
  effectClaimMs?: number;
  /**
   * Vendor calls of a new credential's issue in the credential's turn (`docs/architecture.md`, "Vendor calls in
   * the turn"). On unless false (the benchmark's `BENCH_CALLS_IN_TURN=0` turns it off, to compare).
   */
  callsInTurn?: boolean;
  /** How long an Idempotency-Key's claim holds before a retry may take it over (10 s). */
  idempotencyClaimMs?: number;
  /** How long a delivered timer waits for its actor before it is delivered again (30 s). */
  timerRedeliverMs?: number;
  /** How long the platform forwarder waits for a reservation's commit before it checks and tries later (5 s). */
  platformCommitWaitMs?: number;
  /** How long Idempotency-Keys are kept (24 h). */
  idempotencyRetentionMs?: number;
  /** How often the synthetic vendor check runs (5 min; 0: never). */
  vendorProbeEveryMs?: number;
  clock: Clock;
  log: (msg: string, data?: Record<string, unknown>) => void;
}

export async function startService(s: ServiceSettings) {
  // Development migrates at start as the owner; production migrates with `lock:cli migrate` beforehand and
  // the process holds the runtime roles only.
  if (s.migrateOnStart !== false) {
    await ensureDatabase(s.databaseUrl);
    await migrateToLatest(s.databaseUrl);
  }
  const runtimeUrl = withUser(s.databaseUrl, 'lock_runtime', s.rolePasswords?.runtime);
  const dispatcherUrl = withUser(s.databaseUrl, 'lock_dispatcher', s.rolePasswords?.dispatcher);
  const runtimeDb = connect(runtimeUrl, {
    max: 16,
    applicationName: 'lock-runtime',
  });
  const dispatcherDb = connect(dispatcherUrl, {
    max: 8,
    applicationName: 'lock-dispatcher',
  });
  try {
    await checkSchema(runtimeDb);
  } catch (e) {
    await Promise.all([runtimeDb.destroy(), dispatcherDb.destroy()]);
    throw e;
  }
  // The outbox relay's own connection: its lock is the session's (migration 0025). A process that stops
  // passing (frozen, cut off) has its session ended by the server after 15 s, and the lock with it; passing,
  // it uses the connection five times a second.
  const relayDb = connect(dispatcherUrl, {
    max: 1,
    applicationName: 'lock-outbox-relay',
    idleSessionTimeoutMs: 15_000,
  });
  // The webhook inbox's own connection: one batch in flight, never queued behind the router's queries.
  const inboxDb = connect(dispatcherUrl, {
    max: 1,
    applicationName: 'lock-webhook-inbox',
  });
  const nc = await natsConnect({
    servers: s.natsUrl,
    name: `lock-integration-${s.owner}`,
    maxReconnectAttempts: -1,
    // Each JetStream publish is a request; an Error per request (for its async stack) cost ~3% of CPU.
    noAsyncTraces: true,
  });
  // Committed-transition notifications on a connection of their own that does not hear its own publishes:
  // this process's gateway is told in process (no round trip through the server), other processes' over NATS.
  const notifyNc = await natsConnect({
    servers: s.natsUrl,
    name: `lock-integration-${s.owner}-notify`,
    maxReconnectAttempts: -1,
    noEcho: true,
  });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const t = topology(s.prefix, s.partitions);
  const streams = () => ensureStreams(jsm, t, { platform: s.createPlatformStream });
  await streams();
  // Snapshots written before the inbox stream's identity was kept count their sequences in this stream.
  // Snapshots written before the inbox stream's identity was kept are stamped with it (migration 0009).
  const created = (await jsm.streams.info(t.actorsStream)).created;
  await sql`select lock_stamp_inbox_epoch(${created})`.execute(runtimeDb);
  const kvm = new Kvm(nc);
  const metrics = createMetrics();
  const secrets = createSecretBox(s.secretKeyId, s.secretKey);
  const vendorPolicy: VendorConfigPolicy = s.vendorPolicy ?? {
    mode: 'simulated',
    egress: { allow: new Set() },
    envAllow: new Map(),
  };
  const vendorSecrets = createVendorSecretStore(
    runtimeDb,
    createTenantKeyring(
      runtimeDb,
      s.kek ?? aesKek(Buffer.from(hkdfSync('sha256', s.secretKey, '', 'lock-integration kek', 32))),
    ),
  );
  // The desktop agents: enrolled in PostgreSQL, heard and commanded on NATS (generic-wiegand encodes there).
  const desktopAgents = createDesktopAgents(runtimeDb);
  // Offline issuance: Cloud KMS in production (main.ts), else a key every process derives from the secret.
  const offlineSigner =
    s.offlineSigner ??
    localOfflineSigner(
      Buffer.from(hkdfSync('sha256', s.secretKey, '', 'lock-integration offline issuance', 32)),
    );
  const certificates = createCertificateStore(runtimeDb);
  const desktop = new DesktopBus({
    nc,
    root: t.desktopRoot,
    agents: desktopAgents,
    db: runtimeDb,
    clock: s.clock,
    log: (msg, data) => s.log(msg, data),
  });
  desktop.start();
  const adapters = createAdapterResolver({
    runtimeDb,
    clock: s.clock,
    factories: {
      ...adapterFactories({
        clock: s.clock,
        timeoutMs: s.effectTimeoutMs,
        desktop,
        // The simulators of simulated mode are on loopback by design; live calls go through the egress guard.
        ...(vendorPolicy.mode === 'live' ? { egress: vendorPolicy.egress } : {}),
      }),
      ...s.adapterFactories,
    },
    mode: vendorPolicy.mode,
    defaults: s.vendorDefaults,
    secretStore: vendorSecrets,
    envSecret: allowedEnv(vendorPolicy, s.secrets),
    egress: vendorPolicy.egress,
    breaker: s.breaker,
    onBreakerState: (vendor, state) => metrics.breaker.set({ vendor }, state === 'open' ? 1 : 0),
  });
  const stately = s.inspectWsUrl
    ? statelyInspectionSink(
        s.inspectWsUrl,
        Object.fromEntries(Object.entries(actorKinds).map(([type, k]) => [type, k.machine])),
      )
    : null;
  const watcher = new StateWatcher(notifyNc, t.stateRoot);
  watcher.start();
  await watcher.ready();
  const runtime: Runtime = await startRuntime({
    notify: (n) => {
      watcher.deliver(n);
      try {
        publishNotification(notifyNc, t.stateRoot, n);
      } catch (e) {
        // Hints for other processes' waiters (they read the record after their wait); the commit is done,
        // and what follows it (its effects, the relay) must not wait for NATS.
        s.log('state notification not published', { err: String(e) });
      }
    },
    ...(stately ? { onInspection: (events: InspectionEvent[]) => stately.emit(events) } : {}),
    nc,
    js,
    jsm,
    openLeaseBucket: () => kvm.create(t.leaseBucket, { ttl: s.leaseTtlMs, history: 1 }),
    ensureStreams: streams,
    topology: t,
    runtimeDb,
    dispatcherDb,
    relayDb,
    adapters,
    secrets,
    clock: s.clock,
    metrics,
    log: s.log,
    options: {
      owner: s.owner,
      leaseTtlMs: s.leaseTtlMs,
      ackWaitMs: s.ackWaitMs,
      effectTimeoutMs: s.effectTimeoutMs,
      passivateEachMessage: s.passivateEachMessage,
      timerPollMs: s.timerPollMs,
      sweepEveryMs: s.sweepEveryMs,
      effectClaimMs: s.effectClaimMs,
      callsInTurn: s.callsInTurn !== false,
      ...(s.timerRedeliverMs !== undefined ? { timerRedeliverMs: s.timerRedeliverMs } : {}),
    },
  });
  const mailbox = createActorMailbox(js, t, watcher);
  const readModel = createReadModel(runtimeDb);
  const issuance: IssuanceDeps = {
    readModel,
    secrets,
    supportsKind,
    needsHolderDetail,
    ...(s.retry ? { retry: s.retry } : {}),
    ...(s.generatePin ? { generatePin: s.generatePin } : {}),
  };
  const platformDeps: PlatformConsumerDeps = {
    js,
    jsm,
    topology: t,
    // An event is acknowledged only once its actor applied it: delivered in process where this one owns it.
    mailbox: runtime.localFirst(mailbox),
    runtimeDb,
    issuance,
    clock: s.clock,
    log: s.log,
    ackWaitMs: s.ackWaitMs,
    onEvent: (event, outcome) => metrics.platformEvents.inc({ event, outcome }),
    ...(s.platformCommitWaitMs !== undefined ? { commitWaitMs: s.platformCommitWaitMs } : {}),
  };
  const platform = new PlatformEventConsumer(platformDeps);
  // Deactivations on a consumer of their own: never behind a backlog of reservations.
  const platformPriority = new PlatformEventConsumer({ ...platformDeps, lane: 'priority' });
  await platform.start();
  await platformPriority.start();
  const webhookRouter = new WebhookRouter({
    dispatcherDb,
    mailbox,
    adapters,
    clock: s.clock,
    pollMs: s.timerPollMs,
    onRouted: (vendor, outcome) => metrics.webhooksRouted.inc({ vendor, outcome }),
    log: s.log,
  });
  webhookRouter.start();
  const pruner = new IdempotencyPruner({
    dispatcherDb,
    clock: s.clock,
    retentionMs: s.idempotencyRetentionMs ?? 24 * 3_600_000,
    log: s.log,
  });
  pruner.start();
  const certCleanup = new OfflineCertCleanup({ db: dispatcherDb, clock: s.clock, log: s.log });
  certCleanup.start();
  const probe = new VendorProbe({
    dispatcherDb,
    adapters,
    elected: () => runtime.ownedPartitions().includes(0),
    metrics: {
      reset: () => metrics.probeUp.reset(),
      up: (vendor, check, share) => metrics.probeUp.set({ vendor, check }, share),
      seconds: (vendor, check, sec) => metrics.probeSeconds.observe({ vendor, check }, sec),
      failed: (vendor, check, failure) => metrics.probeFailures.inc({ vendor, check, failure }),
      ran: (at, n) => {
        metrics.probeLastRun.set(at.getTime() / 1000);
        metrics.probeAdapters.set(n);
      },
    },
    everyMs: s.vendorProbeEveryMs ?? 300_000,
    timeoutMs: s.effectTimeoutMs,
    now: () => s.clock.now(),
    log: s.log,
  });
  if ((s.vendorProbeEveryMs ?? 300_000) > 0) probe.start();

  return {
    nc,
    js,
    jsm,
    topology: t,
    runtime,
    mailbox,
    readModel,
    issuance,
    /** One per process: every gateway on this service plans REST issues from it (`issueContextCache.ts`). */
    issueContexts: new IssueContextCache(),
    metrics,
    runtimeDb,
    dispatcherDb,
    secrets,
    adapters,
    vendorSecrets,
    vendorPolicy,
    desktopAgents,
    desktop,
    offline: { signer: offlineSigner, certificates },
    log: s.log,
    /** The tenant's committed transitions as they are notified (the inspector's live feed). */
    feed: (tenantId: string, listener: (n: StateNotification) => void) => watcher.feed(tenantId, listener),
    webhookEndpoints: createWebhookEndpoints(runtimeDb, vendorSecrets),
    webhookInbox: countedInbox(createWebhookInboxWriter(inboxDb), metrics),
    webhookRouter,
    idempotencyClaimMs: s.idempotencyClaimMs,
    effectClaimMs: s.effectClaimMs ?? 30_000,
    pruner,
    probe,
    async stop() {
      stately?.stop();
      await probe.stop();
      await pruner.stop();
      await certCleanup.stop();
      await webhookRouter.stop();
      await platform.stop();
      await platformPriority.stop();
      await runtime.stop();
      // The relay has stopped (and let go of its lock): its connection goes now, not after NATS drains.
      await relayDb.destroy();
      await desktop.stop();
      watcher.stop();
      await nc.drain().catch(() => {});
      await notifyNc.drain().catch(() => {});
      await runtimeDb.destroy();
      await dispatcherDb.destroy();
      await inboxDb.destroy();
    },
  };
}

export type Service = Awaited<ReturnType<typeof startService>>;

/** The inbox, counting what it stores per vendor. */
function countedInbox(inbox: WebhookInbox, metrics: ReturnType<typeof createMetrics>): WebhookInbox {
  return {
    async store(w) {
      const stored = await inbox.store(w);
      metrics.webhooksStored.inc({ vendor: w.vendor, result: stored ? 'stored' : 'duplicate' });
      return stored;
    },
  };
}

/** Every machine as a Mermaid diagram (the grant's too: the credential composes one per lock), made once. */
let machineDiagrams: Record<string, string> | undefined;
function inspectedMachines(): Record<string, string> {
  machineDiagrams ??= Object.fromEntries([
    ...Object.entries(actorKinds).map(([type, k]) => [type, toMermaid(k.machine)] as const),
    ['grant', toMermaid(grantMachine)] as const,
  ]);
  return machineDiagrams;
}

/** The gateway's narrow capabilities over a running service (main, tests and the benchmark share it). */
export function gatewayPorts(
  service: Service,
  auth: Authenticator,
  waitBudgetMs: number,
  clock: Clock,
): GatewayPorts {
  // Every command the gateway sends is journaled first: the sweeper sends it again if it is lost (in JetStream,
  // or with a process it was handed to), so it may be delivered in process.
  const mailbox = createJournaledMailbox(
    service.runtime.localFirst(service.mailbox),
    service.runtimeDb,
    service.effectClaimMs,
  );
  return {
    auth,
    mailbox,
    readModel: service.readModel,
    issuance: service.issuance,
    secrets: service.secrets,
    runtimeDb: service.runtimeDb,
    metrics: service.metrics,
    clock,
    waitBudgetMs,
    ...(service.idempotencyClaimMs !== undefined ? { idempotencyClaimMs: service.idempotencyClaimMs } : {}),
    issueContexts: service.issueContexts,
    async sendJournaled(m, match, timeoutMs) {
      // Watched before it is handed over: a commit in between is not missed.
      const w = mailbox.watch(m.to, match);
      try {
        service.runtime.handOver(m);
      } catch (e) {
        w.release();
        throw e;
      }
      return w.wait(timeoutMs);
    },
    journalClaimMs: service.effectClaimMs,
    ready: async () => ({
      nats: !service.nc.isClosed(),
      postgres: await sql`select 1`.execute(service.runtimeDb).then(
        () => true,
        () => false,
      ),
      partitions: service.runtime.ownedPartitions().length > 0,
    }),
    webhookEndpoints: service.webhookEndpoints,
    webhookInbox: service.webhookInbox,
    vendorSecrets: service.vendorSecrets,
    desktopAgents: service.desktopAgents,
    offline: {
      ...service.offline,
      reconciler: createReconciler({
        db: service.runtimeDb,
        readModel: service.readModel,
        issuance: service.issuance,
        secrets: service.secrets,
        mailbox,
        certificates: service.offline.certificates,
        servicePublicKey: () => service.offline.signer.publicKeyPem(),
        clock,
        log: service.log,
      }),
    },
    desktopRoot: service.topology.desktopRoot,
    inspector: {
      store: createInspectorStore(service.runtimeDb),
      feed: service.feed,
      machines: inspectedMachines,
    },
    checkVendorConfig: (tenantId, config) => checkVendorConfig(service.vendorPolicy, tenantId, config),
    async vendorLocks(tenantId, propertyId, vendor, opts = {}) {
      // An operator's action, rare: the setting and secrets as they are now (a secret just rotated counts).
      const { adapter, breaker } = await service.adapters.resolve(tenantId, propertyId, vendor, {
        issue: !opts.disabledToo,
        fresh: true,
      });
      return breaker.call(() => adapter.listLocks());
    },
    async retireVendorAccess(tenantId, propertyId, vendor) {
      const { adapter, breaker } = await service.adapters.resolve(tenantId, propertyId, vendor, {
        fresh: true,
      });
      const retire = adapter.retireAccess;
      if (!retire) return [];
      return breaker.call(() => retire.call(adapter));
    },
  };
}
