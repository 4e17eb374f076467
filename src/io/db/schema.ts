/** Row types of the record, as kysely sees them (the migrations are the source of truth). */
import type { ColumnType, Generated, JSONColumnType } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type BigIntCol = ColumnType<string, number | string | bigint, number | string | bigint>;

export interface ActorSnapshotsTable {
  tenant_id: string;
  actor_type: string;
  actor_id: string;
  version: BigIntCol;
  last_seq: BigIntCol;
  machine_version: number;
  /** The inbox stream `last_seq` counts in (its creation time); null for rows from before it was kept. */
  inbox_epoch: ColumnType<string | null, string | null | undefined, string | null>;
  snapshot: JSONColumnType<Record<string, unknown>, string, string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface PartitionFencesTable {
  partition: number;
  fence: BigIntCol;
  owner: string;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface PropertiesTable {
  tenant_id: string;
  id: string;
  name: string;
  timezone: string;
  vendor_adapters: JSONColumnType<Record<string, unknown>, string, string>;
  key_kind_policy: JSONColumnType<Record<string, unknown>, string, string>;
  version: BigIntCol;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface LockDevicesTable {
  tenant_id: string;
  id: string;
  property_id: string;
  room_id: string;
  vendor: string;
  vendor_device_ref: string;
  areas: string[];
  status: string;
  version: BigIntCol;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface KeyCredentialsTable {
  tenant_id: string;
  id: string;
  property_id: string;
  reservation_id: string | null;
  holder_kind: string;
  holder_ref: string;
  /** The REST caller who asked for it; null for credentials the service derives. */
  issued_by: ColumnType<string | null, string | null | undefined, never>;
  kind: string;
  rooms: string[];
  areas: string[];
  valid_from: Timestamp;
  valid_until: Timestamp;
  vendor: string | null;
  status: string;
  grants: JSONColumnType<unknown[], string, string>;
  failure: JSONColumnType<Record<string, unknown> | null, string | null, string | null>;
  version: BigIntCol;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** The transaction that last changed the row (xid8, as text): the desks' mirror cursor. */
  mirror_xid: Generated<string>;
}

export interface OutboxTable {
  tenant_id: string;
  id: Generated<string>;
  event_id: string;
  subject: string;
  payload: JSONColumnType<Record<string, unknown>, string, string>;
  /** The W3C `traceparent` of the commit that wrote it: the relay's publish continues that trace. */
  trace: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface EffectIntentsTable {
  tenant_id: string;
  id: string;
  actor_type: string;
  actor_id: string;
  operation_id: string;
  intent: JSONColumnType<Record<string, unknown>, string, string>;
  runs: ColumnType<number, number | undefined, number>;
  claimed_until: Timestamp;
  /** The outcome delivered to the actor and not applied yet (a sweeper sends it again). */
  outcome: JSONColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  /** The W3C `traceparent` of the commit that journaled it: its run continues that trace. */
  trace: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface TimersTable {
  tenant_id: string;
  actor_type: string;
  actor_id: string;
  key: string;
  due_at: Timestamp;
  event: JSONColumnType<Record<string, unknown>, string, string>;
  /** Delivered and not applied yet: sent again at this time. */
  redeliver_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface IdempotencyKeysTable {
  tenant_id: string;
  key: string;
  scope: string;
  request_hash: string;
  status_code: number | null;
  response: JSONColumnType<Record<string, unknown> | null, string | null, string | null>;
  claimed_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  prepared: JSONColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface RejectedMessagesTable {
  tenant_id: string;
  id: Generated<string>;
  actor_type: string;
  actor_id: string;
  msg_id: string | null;
  stream_seq: BigIntCol | null;
  code: string;
  reason: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface AuditLogTable {
  tenant_id: string;
  seq: ColumnType<string, never, never>;
  entry: string;
  prev_hash: ColumnType<Buffer, never, never>;
  hash: ColumnType<Buffer, never, never>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface WebhookInboxTable {
  id: Generated<string>;
  vendor: string;
  event_id: string;
  body: JSONColumnType<object, string, string>;
  received_at: ColumnType<Date, Date | string | undefined, never>;
  tenant_id: string | null;
  routed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface TenantKeysTable {
  tenant_id: string;
  kek: string;
  wrapped: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface VendorSecretsTable {
  tenant_id: string;
  property_id: string;
  vendor: string;
  name: string;
  version: number;
  sealed: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface AuditHeadsTable {
  tenant_id: string;
  seq: ColumnType<string, never, never>;
  hash: ColumnType<Buffer, never, never>;
}

export interface WebhookEndpointsTable {
  id: string;
  tenant_id: string;
  property_id: string;
  vendor: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface CredentialPinReadsTable {
  tenant_id: string;
  credential_id: string;
  pin_ref: string;
  read_by: string;
  read_key: string | null;
  read_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface DesktopAgentsTable {
  id: string;
  tenant_id: string;
  property_id: string;
  name: string;
  public_key: string;
  status: ColumnType<string, string | undefined, string>;
  created_by: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  revoked_at: ColumnType<Date | null, never, Date | string | null>;
  revoked_reason: ColumnType<string | null, never, string | null>;
}

export interface OfflineCertificatesTable {
  serial: string;
  tenant_id: string;
  property_id: string;
  agent_id: string;
  not_before: Timestamp;
  not_after: Timestamp;
  key_id: string;
  issued_at: ColumnType<Date, Date | string | undefined, never>;
  revoked_at: ColumnType<Date | null, never, Date | string | null>;
  revoked_reason: ColumnType<string | null, never, string | null>;
  /** On the revocation list since (revoked, or expired: the cleanup job), and off the pulled list since. */
  crl_at: ColumnType<Date | null, never, Date | string | null>;
  crl_reason: ColumnType<string | null, never, string | null>;
  /** The transaction that put it on the list (xid8, as text): the desks' cursor on the list. */
  crl_xid: ColumnType<string | null, never, unknown>;
  archived_at: ColumnType<Date | null, never, never>;
}

export interface ProvisionalIssuancesTable {
  tenant_id: string;
  id: string;
  property_id: string;
  agent_id: string;
  certificate_serial: string;
  digest: string;
  rooms: string[];
  valid_from: Timestamp;
  valid_until: Timestamp;
  reservation_id: string | null;
  holder_ref: string;
  uid: string | null;
  card_number_sealed: string;
  outcome: 'accepted' | 'accepted_with_changes' | 'rejected';
  reason: string | null;
  changes: JSONColumnType<ProvisionalChange[], string, string>;
  issued_at: Timestamp;
  received_at: ColumnType<Date, Date | string | undefined, never>;
}

/** What reconciliation changed of a provisional credential it accepted. */
export interface ProvisionalChange {
  field: 'validUntil' | 'validFrom' | 'rooms';
  from: string | string[];
  to: string | string[];
  reason: string;
}

export interface DesktopOperationsTable {
  tenant_id: string;
  operation_id: string;
  agent_id: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface Database {
  provisional_issuances: ProvisionalIssuancesTable;
  desktop_operations: DesktopOperationsTable;
  offline_certificates: OfflineCertificatesTable;
  desktop_agents: DesktopAgentsTable;
  credential_pin_reads: CredentialPinReadsTable;
  webhook_endpoints: WebhookEndpointsTable;
  audit_heads: AuditHeadsTable;
  tenant_keys: TenantKeysTable;
  vendor_secrets: VendorSecretsTable;
  webhook_inbox: WebhookInboxTable;
  actor_snapshots: ActorSnapshotsTable;
  partition_fences: PartitionFencesTable;
  properties: PropertiesTable;
  lock_devices: LockDevicesTable;
  key_credentials: KeyCredentialsTable;
  outbox: OutboxTable;
  effect_intents: EffectIntentsTable;
  timers: TimersTable;
  idempotency_keys: IdempotencyKeysTable;
  rejected_messages: RejectedMessagesTable;
  audit_log: AuditLogTable;
}
