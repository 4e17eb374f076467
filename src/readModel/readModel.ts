/**
 * Tenant-scoped queries of the read model (the rows actors project). Every query runs in a transaction
 * that sets the tenant, so row-level security decides what exists.
 */
import { type Selectable, sql } from 'kysely';
import { LockError } from '../errors.ts';
import { reservationActorId, staffActorId } from '../ids.ts';
import {
  type Db,
  type KeyCredentialsTable,
  type LockDevicesTable,
  type Tx,
  withTenant,
} from '../io/db/index.ts';
import { readCredentialRow } from '../io/db/batchedCalls.ts';
import { MicroBatcher } from '../io/db/microBatcher.ts';
import type { KeyCredentialRow } from '../actors/actorKinds.ts';
import type { MirroredCredential } from '../desktop/provisional.ts';
import type { KeyKindPolicy, VendorSwitchContext } from '../machines/index.ts';

/** A credential that may still open a door: anything not closed (a revoke under way still may). */
const LIVE = ['requested', 'issuing', 'active', 'updating', 'revoking', 'provisional'];
import type { DeviceInRoom } from './planTargets.ts';

export interface PropertyView {
  id: string;
  name: string;
  timezone: string;
  vendorAdapters: Record<string, { status: string; config: Record<string, unknown>; updatedAt: string }>;
  keyKindPolicy: KeyKindPolicy;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface LockDeviceView {
  id: string;
  propertyId: string;
  roomId: string;
  vendor: string;
  vendorDeviceRef: string;
  areas: string[];
  status: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface CredentialView {
  id: string;
  propertyId: string;
  reservationId: string | null;
  holder: { kind: string; ref: string };
  kind: string;
  rooms: string[];
  areas: string[];
  validFrom: string;
  validUntil: string;
  vendor: string | null;
  status: string;
  grants: unknown[];
  failure?: Record<string, unknown>;
  /** The REST caller who asked for it (not in the REST schema: who may read a changed PIN). */
  issuedBy?: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A properties row as PostgreSQL returns it, or as `to_jsonb` renders it (timestamps as strings). */
interface PropertyRowJson {
  id: string;
  name: string;
  timezone: string;
  vendor_adapters: unknown;
  key_kind_policy: unknown;
  version: number | string;
  created_at: Date | string;
  updated_at: Date | string;
}

function toProperty(r: PropertyRowJson): PropertyView {
  return {
    id: r.id,
    name: r.name,
    timezone: r.timezone,
    vendorAdapters: r.vendor_adapters as PropertyView['vendorAdapters'],
    keyKindPolicy: r.key_kind_policy as KeyKindPolicy,
    version: Number(r.version),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

const iso = (d: Date | string) => (d instanceof Date ? d.toISOString() : new Date(d).toISOString());

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { createdAt: string; id: string } | null {
  if (!cursor) return null;
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)))
    throw new LockError('LOCK.VALIDATION', 'cursor is not valid');
  return { createdAt, id };
}

/** Keyset pagination on (created_at, id): a row comparison, the same for every list. */
function afterCursor(after: { createdAt: string; id: string }) {
  return sql<boolean>`(created_at, id) > (${new Date(after.createdAt)}, ${after.id})`;
}

/** The page of `limit` rows out of `limit + 1` fetched; the extra row only says there is more. */
function toPage<R extends { created_at: Date; id: string }, T>(
  rows: R[],
  limit: number,
  map: (r: R) => T,
): Page<T> {
  const items = rows.slice(0, limit);
  const last = rows.length > limit ? items.at(-1) : undefined;
  return { items: items.map(map), nextCursor: last ? encodeCursor(last.created_at, last.id) : null };
}

export interface ReadModel {
  property(tenantId: string, id: string): Promise<PropertyView | null>;
  devicesInRooms(tenantId: string, propertyId: string, rooms: string[]): Promise<DeviceInRoom[]>;
  /** A vendor switch as its actor last committed it (no read-model table of its own), or null. */
  vendorSwitch(tenantId: string, id: string): Promise<{ phase: string; context: VendorSwitchContext } | null>;
  /** The vendor switch the property is taken by (its actor's claim), if any. */
  propertySwitch(tenantId: string, propertyId: string): Promise<{ id: string; at: string } | null>;
  /** Live credentials (not closed) with a grant on the lock device. */
  liveCredentialsOnDevice(tenantId: string, propertyId: string, lockDeviceId: string): Promise<string[]>;
  /** The grants live credentials of the property hold on the vendor: which credential, which lock. */
  liveGrantsOnVendor(
    tenantId: string,
    propertyId: string,
    vendor: string,
  ): Promise<{ credentialId: string; lockDeviceId: string }[]>;
  /** How many live credentials of the property hold a grant on the vendor. */
  liveCredentialsOnVendor(tenantId: string, propertyId: string, vendor: string): Promise<number>;
  /** The live credentials of a holder, in every property of the tenant. */
  liveCredentialsOfHolder(tenantId: string, kind: 'guest' | 'staff', ref: string): Promise<string[]>;
  /** Whether the member of staff's account was deactivated (their staff actor says so). */
  staffDeactivated(tenantId: string, staffId: string): Promise<boolean>;
  /**
   * A property's credentials changed after `after` (by update time, then id) and before `before`: a desk's
   * mirror. No secrets: what the desk needs to see which rooms are let, and until when.
   */
  credentialChanges(
    tenantId: string,
    propertyId: string,
    q: { after: { change: string; id: string } | null; limit: number },
  ): Promise<(MirroredCredential & { change: string })[]>;
  /** A reservation's stay as its actor last committed it: its check-out and why it ended; null if unknown. */
  reservationStay(tenantId: string, reservationId: string): Promise<ReservationStay | null>;
  /** The rooms whose active lock devices are in any of the areas (a master key's doors). */
  roomsInAreas(tenantId: string, propertyId: string, areas: string[]): Promise<string[]>;
  /** The property and its rooms' locks in one round trip: what issuing reads on its hot path. */
  issueContext(tenantId: string, propertyId: string, rooms: string[]): Promise<IssueContext>;
  device(tenantId: string, id: string): Promise<LockDeviceView | null>;
  devices(
    tenantId: string,
    q: { propertyId?: string; roomId?: string; status?: string; limit: number; cursor?: string },
  ): Promise<Page<LockDeviceView>>;
  credential(tenantId: string, id: string): Promise<CredentialView | null>;
  credentials(
    tenantId: string,
    q: { propertyId?: string; reservationId?: string; status?: string; limit: number; cursor?: string },
  ): Promise<Page<CredentialView>>;
}

type IssueContextRow = { property: PropertyRowJson | null; devices: DeviceInRoom[] };

/** What issuing reads: the property (null: unknown to the tenant) and its requested rooms' locks. */
export interface IssueContext {
  property: PropertyView | null;
  devices: DeviceInRoom[];
}

/** An issue context as the database renders it (`lock_issue_contexts`, `lock_issue_claims`), read. */
export function issueContextOf(row: unknown): IssueContext {
  const ctx = row as IssueContextRow | null | undefined;
  return { property: ctx?.property ? toProperty(ctx.property) : null, devices: ctx?.devices ?? [] };
}
type IssueContextRequest = { tenant: string; property: string; rooms: string[] };

export function createReadModel(db: Db): ReadModel {
  // Every issuance asks this once: requests arriving together share a round trip (migration 0007).
  const issueContexts = new MicroBatcher<IssueContextRequest, IssueContextRow | undefined>(
    async (requests) => {
      const { rows } = await sql<{ i: number; ctx: IssueContextRow }>`
        select i, ctx from lock_issue_contexts(${JSON.stringify(requests)}::jsonb)
      `.execute(db);
      const byIndex = new Map(rows.map((r) => [r.i, r.ctx]));
      return requests.map((_, i) => byIndex.get(i));
    },
    256,
    2,
  );
  return {
    async property(tenantId, id) {
      const r = await withTenant(db, tenantId, (tx) =>
        tx.selectFrom('properties').selectAll().where('id', '=', id).executeTakeFirst(),
      );
      return r ? toProperty(r) : null;
    },

    async issueContext(tenantId, propertyId, rooms) {
      return issueContextOf(await issueContexts.submit({ tenant: tenantId, property: propertyId, rooms }));
    },

    async vendorSwitch(tenantId, id) {
      const { rows } = await withTenant(db, tenantId, (tx) =>
        sql<{ value: string; context: VendorSwitchContext }>`
          select snapshot->>'value' as value, snapshot->'context' as context from actor_snapshots
           where actor_type = 'vendorSwitch' and actor_id = ${id}`.execute(tx),
      );
      const r = rows[0];
      return r && r.value !== 'new' ? { phase: r.value, context: r.context } : null;
    },

    async propertySwitch(tenantId, propertyId) {
      const { rows } = await withTenant(db, tenantId, (tx) =>
        sql<{ claim: { id: string; at: string } | null }>`
          select snapshot->'context'->'runningSwitch' as claim from actor_snapshots
           where actor_type = 'property' and actor_id = ${propertyId}`.execute(tx),
      );
      return rows[0]?.claim ?? null;
    },

    async liveCredentialsOnDevice(tenantId, propertyId, lockDeviceId) {
      const { rows } = await withTenant(db, tenantId, (tx) =>
        sql<{ id: string }>`
          select id from key_credentials
           where property_id = ${propertyId} and status in (${sql.join(LIVE)})
             and grants @> ${JSON.stringify([{ lockDeviceId }])}::jsonb
           order by id`.execute(tx),
      );
      return rows.map((r) => r.id);
    },

    async liveGrantsOnVendor(tenantId, propertyId, vendor) {
      const { rows } = await withTenant(db, tenantId, (tx) =>
        sql<{ credentialId: string; lockDeviceId: string }>`
          select k.id as "credentialId", g->>'lockDeviceId' as "lockDeviceId"
            from key_credentials k, jsonb_array_elements(k.grants) g
           where k.property_id = ${propertyId} and k.status in (${sql.join(LIVE)}) and g->>'vendor' = ${vendor}
           order by k.id`.execute(tx),
      );
      return rows;
    },

    async liveCredentialsOnVendor(tenantId, propertyId, vendor) {
      const { rows } = await withTenant(db, tenantId, (tx) =>
        sql<{ n: string }>`
          select count(*) as n from key_credentials
           where property_id = ${propertyId} and status in (${sql.join(LIVE)})
             and grants @> ${JSON.stringify([{ vendor }])}::jsonb`.execute(tx),
      );
      return Number(rows[0]?.n ?? 0);
    },

    async liveCredentialsOfHolder(tenantId, kind, ref) {
      const { rows } = await withTenant(db, tenantId, (tx) =>
        sql<{ id: string }>`
          select id from key_credentials
           where holder_kind = ${kind} and holder_ref = ${ref} and status in (${sql.join(LIVE)})
           order by id limit 10000`.execute(tx),
      );
      return rows.map((r) => r.id);
    },

    async staffDeactivated(tenantId, staffId) {
      const { rows } = await withTenant(db, tenantId, (tx) =>
        sql<{ deactivated: boolean }>`
          select (snapshot->'context'->>'deactivatedAt') is not null as deactivated from actor_snapshots
           where actor_type = 'staff' and actor_id = ${staffActorId(tenantId, staffId)}`.execute(tx),
      );
      return rows[0]?.deactivated === true;
    },

    async credentialChanges(tenantId, propertyId, q) {
      const rows = await withTenant(db, tenantId, (tx) => {
        let s = tx
          .selectFrom('key_credentials')
          .select([
            'id',
            'status',
            'kind',
            'rooms',
            'reservation_id',
            'holder_ref',
            'valid_from',
            'valid_until',
            'updated_at',
            sql<string>`mirror_xid::text`.as('changed'),
          ])
          .where('property_id', '=', propertyId)
          // Only changes of transactions older than every one still running: none can commit below them later.
          .where(sql<boolean>`mirror_xid < pg_snapshot_xmin(pg_current_snapshot())`);
        const after = q.after;
        if (after) s = s.where(sql<boolean>`(mirror_xid, id) > (${after.change}::xid8, ${after.id})`);
        return s.orderBy('mirror_xid').orderBy('id').limit(q.limit).execute();
      });
      return rows.map((r) => ({
        id: r.id,
        status: r.status,
        kind: r.kind,
        rooms: r.rooms,
        reservationId: r.reservation_id,
        holderRef: r.holder_ref,
        validFrom: new Date(r.valid_from).toISOString(),
        validUntil: new Date(r.valid_until).toISOString(),
        updatedAt: new Date(r.updated_at).toISOString(),
        change: r.changed,
      }));
    },

    async reservationStay(tenantId, reservationId) {
      return withTenant(db, tenantId, (tx) => reservationStayIn(tx, tenantId, reservationId));
    },

    async roomsInAreas(tenantId, propertyId, areas) {
      if (areas.length === 0) return [];
      const rows = await withTenant(db, tenantId, (tx) =>
        tx
          .selectFrom('lock_devices')
          .select('room_id')
          .distinct()
          .where('property_id', '=', propertyId)
          .where('status', '=', 'active')
          .where(sql<boolean>`areas && ${sql.val(areas)}::text[]`)
          .orderBy('room_id')
          .execute(),
      );
      return rows.map((r) => r.room_id);
    },

    async devicesInRooms(tenantId, propertyId, rooms) {
      if (rooms.length === 0) return [];
      const rows = await withTenant(db, tenantId, (tx) =>
        tx
          .selectFrom('lock_devices')
          .select(['id', 'room_id', 'vendor', 'vendor_device_ref', 'status'])
          .where('property_id', '=', propertyId)
          .where('room_id', 'in', rooms)
          .execute(),
      );
      return rows.map((r) => ({
        id: r.id,
        roomId: r.room_id,
        vendor: r.vendor,
        vendorDeviceRef: r.vendor_device_ref,
        status: r.status,
      }));
    },

    async device(tenantId, id) {
      const r = await withTenant(db, tenantId, (tx) =>
        tx.selectFrom('lock_devices').selectAll().where('id', '=', id).executeTakeFirst(),
      );
      return r ? toDevice(r) : null;
    },

    async devices(tenantId, q) {
      const after = decodeCursor(q.cursor);
      const rows = await withTenant(db, tenantId, (tx) => {
        let s = tx.selectFrom('lock_devices').selectAll();
        if (q.propertyId) s = s.where('property_id', '=', q.propertyId);
        if (q.roomId) s = s.where('room_id', '=', q.roomId);
        if (q.status) s = s.where('status', '=', q.status);
        if (after) s = s.where(afterCursor(after));
        return s
          .orderBy('created_at')
          .orderBy('id')
          .limit(q.limit + 1)
          .execute();
      });
      return toPage(rows, q.limit, toDevice);
    },

    async credential(tenantId, id) {
      // REST answers and waits read this on every request: one statement shared with the requests in
      // flight (migration 0023), dates as ISO text.
      const row = await readCredentialRow(db, tenantId, id);
      return row ? toCredential(row as unknown as CredentialRow) : null;
    },

    async credentials(tenantId, q) {
      const after = decodeCursor(q.cursor);
      const rows = await withTenant(db, tenantId, (tx) => {
        let s = tx.selectFrom('key_credentials').selectAll();
        if (q.propertyId) s = s.where('property_id', '=', q.propertyId);
        if (q.reservationId) s = s.where('reservation_id', '=', q.reservationId);
        if (q.status) s = s.where('status', '=', q.status);
        if (after) s = s.where(afterCursor(after));
        return s
          .orderBy('created_at')
          .orderBy('id')
          .limit(q.limit + 1)
          .execute();
      });
      return toPage(rows, q.limit, toCredential);
    },
  };
}

/** A lock device as selected (the tenant is the transaction's). */
type DeviceRow = Omit<Selectable<LockDevicesTable>, 'tenant_id'>;

function toDevice(r: DeviceRow): LockDeviceView {
  return {
    id: r.id,
    propertyId: r.property_id,
    roomId: r.room_id,
    vendor: r.vendor,
    vendorDeviceRef: r.vendor_device_ref,
    areas: r.areas,
    status: r.status,
    version: Number(r.version),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

/** A reservation's stay as its actor last committed it. */
export interface ReservationStay {
  propertyId: string;
  checkOut: string | null;
  endReason: string | null;
}

/**
 * A reservation's stay, read in `tx` (under its tenant); `hold`: share-locked until `tx` ends, so a commit of
 * the reservation waits for it.
 */
export async function reservationStayIn(
  tx: Tx,
  tenantId: string,
  reservationId: string,
  hold = false,
): Promise<ReservationStay | null> {
  const { rows } = await sql<{ property_id: string; check_out: string | null; end_reason: string | null }>`
    select snapshot->'context'->>'propertyId' as property_id,
           snapshot->'context'->>'checkOut' as check_out, snapshot->'context'->>'endReason' as end_reason
      from actor_snapshots
     where actor_type = 'reservation' and actor_id = ${reservationActorId(tenantId, reservationId)}
     ${hold ? sql`for share` : sql``}`.execute(tx);
  const r = rows[0];
  return r ? { propertyId: r.property_id, checkOut: r.check_out, endReason: r.end_reason } : null;
}

/** A key credential as selected (the tenant is the transaction's), or as its commit wrote it (dates as text). */
type CredentialRow = Omit<
  Selectable<KeyCredentialsTable>,
  'tenant_id' | 'mirror_xid' | 'valid_from' | 'valid_until' | 'created_at' | 'updated_at'
> &
  Record<'valid_from' | 'valid_until' | 'created_at' | 'updated_at', Date | string>;

/**
 * A credential as the commit that wrote its row has it (in process, told with the commit's notification):
 * what a read right after that commit returns, without the read.
 */
export function credentialViewOf(row: KeyCredentialRow): CredentialView {
  return toCredential({
    ...row,
    issued_by: row.issued_by ?? null,
    grants: JSON.parse(row.grants) as unknown[],
    failure: row.failure === null ? null : (JSON.parse(row.failure) as Record<string, unknown>),
    version: String(row.version),
  });
}

function toCredential(r: CredentialRow): CredentialView {
  return {
    id: r.id,
    propertyId: r.property_id,
    reservationId: r.reservation_id,
    holder: { kind: r.holder_kind, ref: r.holder_ref },
    kind: r.kind,
    rooms: r.rooms,
    areas: r.areas,
    validFrom: iso(r.valid_from),
    validUntil: iso(r.valid_until),
    vendor: r.vendor,
    status: r.status,
    grants: r.grants,
    ...(r.failure ? { failure: r.failure } : {}),
    issuedBy: r.issued_by ?? null,
    version: Number(r.version),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}
