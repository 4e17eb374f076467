/** What the gateway is given: narrow capabilities, never the runtime itself. */
import type { ActorMailbox, JournaledHandOver } from '../actors/index.ts';
import type { IssueContextCache } from '../issuance/issueContextCache.ts';
import type { Clock } from '../ids.ts';
import type { SecretBox } from '../io/crypto/secretBox.ts';
import type { Db } from '../io/db/index.ts';
import type { IssuanceDeps } from '../issuance/credentialRequests.ts';
import type { VendorLock } from '../io/vendors/port.ts';
import type { Metrics } from '../metrics.ts';
import type { ReadModel } from '../readModel/index.ts';
import type { Authenticator } from './auth.ts';
import type { WebhookInbox } from './webhooks/routes.ts';
import type { WebhookEndpoints } from '../io/vendors/webhookEndpoints.ts';
import type { VendorSecretStore } from '../io/vendors/vendorSecrets.ts';
import type { DesktopAgents } from '../desktop/agents.ts';
import type { CertificateStore } from '../desktop/certificateStore.ts';
import type { OfflineSigner } from '../io/crypto/offlineSigner.ts';
import type { Reconciler } from '../desktop/reconciliation.ts';
import type { InspectorStore } from '../observability/inspectorStore.ts';
import type { StateNotification } from '../actors/notifications.ts';

export interface GatewayPorts {
  auth: Authenticator;
  mailbox: ActorMailbox;
  readModel: ReadModel;
  issuance: IssuanceDeps;
  secrets: SecretBox;
  /** The runtime role's pool, for idempotency keys only. */
  runtimeDb: Db;
  metrics: Metrics;
  clock: Clock;
  /** How long a mutation waits for its actor before answering 202 (the BFF allows 1,200 ms). */
  waitBudgetMs: number;
  /** How long an Idempotency-Key's claim holds before a retry may take it over (default 10 s). */
  idempotencyClaimMs?: number;
  /** Issue contexts kept from earlier REST issues' claims (one cache per process). */
  issueContexts: IssueContextCache;
  /**
   * Sends a message its sender journaled already (a REST issue journaled by its idempotency claim's statement,
   * claimed there for `journalClaimMs`) through the effect runner, which holds that claim meanwhile, and waits
   * for a matching state as `mailbox.sendAndWait` does.
   */
  sendJournaled(
    m: JournaledHandOver,
    match: (n: StateNotification) => boolean,
    timeoutMs: number,
  ): Promise<StateNotification | null>;
  /** How long a journal entry's claim holds (the effect runner's claim). */
  journalClaimMs: number;
  ready(): Promise<Record<string, boolean>>;
  /** Verified vendor webhooks land here before they are acknowledged. */
  webhookInbox: WebhookInbox;
  /** Each property adapter's webhook endpoint (its id and secret). */
  webhookEndpoints: WebhookEndpoints;
  /** A property adapter's sealed secrets (write-only through the API). */
  vendorSecrets: VendorSecretStore;
  /** The desktop agents enrolled per property, and the subject root they speak on. */
  desktopAgents: DesktopAgents;
  desktopRoot: string;
  /** The inspector's data: actors and timelines, the tenant's live transitions, the machines' diagrams. */
  inspector: {
    store: InspectorStore;
    feed(tenantId: string, listener: (n: StateNotification) => void): () => void;
    machines(): Record<string, string>;
  };
  /** The offline-issuance signing key and the certificates it signed. */
  offline: { signer: OfflineSigner; certificates: CertificateStore; reconciler: Reconciler };
  /** Refuses (LOCK.VALIDATION) a vendor config a tenant may not store: env references, URLs outside egress. */
  checkVendorConfig(tenantId: string, config: Record<string, unknown>): Promise<void>;
  /**
   * The locks a property's vendor account lists (bulk import), through that adapter's breaker; `disabledToo`:
   * also of an adapter configured but not enabled yet (a vendor switch's plan and cutover).
   */
  vendorLocks(
    tenantId: string,
    propertyId: string,
    vendor: string,
    opts?: { disabledToo?: boolean },
  ): Promise<VendorLock[]>;
  /**
   * A decommissioned adapter's own rotation at its vendor (`LockAdapter.retireAccess`): the config fields
   * rotated, none where the vendor has no API for it.
   */
  retireVendorAccess(tenantId: string, propertyId: string, vendor: string): Promise<string[]>;
}
