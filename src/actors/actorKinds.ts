/**
 * What the runtime knows of each actor type: its machine, its read-model projection and the aggregate
 * name of its domain events. Projections are pure functions of a snapshot.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import {
  type CredentialSnapshot,
  credentialMachine,
  credentialStatus,
  grantStatus,
  type IssueCredentialEvent,
  type LockDeviceSnapshot,
  newPinRefs,
  pinRef,
  lockDeviceMachine,
  lockDeviceStatus,
  type PropertySnapshot,
  propertyMachine,
  type ReservationSnapshot,
  reservationMachine,
  type StaffSnapshot,
  staffMachine,
  type VendorSwitchSnapshot,
  vendorSwitchMachine,
} from '../machines/index.ts';
import { issuesAtOnce } from '../io/vendors/registry.ts';
import type { ActorType } from './partitioning.ts';
import { credentialV1ToV2, credentialV2ToV3 } from './snapshotUpgrades.ts';

export type ReadModelRow =
  | { table: 'key_credentials'; row: KeyCredentialRow }
  | { table: 'properties'; row: PropertyRow }
  | { table: 'lock_devices'; row: LockDeviceRow };

export interface KeyCredentialRow {
  tenant_id: string;
  id: string;
  property_id: string;
  reservation_id: string | null;
  holder_kind: string;
  holder_ref: string;
  issued_by?: string | null;
  kind: string;
  rooms: string[];
  areas: string[];
  valid_from: string;
  valid_until: string;
  vendor: string | null;
  status: string;
  grants: string;
  failure: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface PropertyRow {
  tenant_id: string;
  id: string;
  name: string;
  timezone: string;
  vendor_adapters: string;
  key_kind_policy: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface LockDeviceRow {
  tenant_id: string;
  id: string;
  property_id: string;
  room_id: string;
  vendor: string;
  vendor_device_ref: string;
  areas: string[];
  status: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface ActorKind {
  type: ActorType;
  machine: AnyStateMachine;
  machineVersion: number;
  /** Aggregate name in `melmastoon.lock.<aggregate>.<verb>.v1`. */
  aggregate: string;
  status(s: AnyMachineSnapshot): string;
  propertyId(s: AnyMachineSnapshot): string;
  project(s: AnyMachineSnapshot, version: number): ReadModelRow | null;
  /** Persisted snapshots of earlier machine versions, upgraded to this one (by the version they had). */
  upgrades?: Record<number, (snapshot: unknown) => unknown>;
  /**
   * What the audit entry records of a message beyond its type: for configuration, what changed. Only
   * kinds whose events hold no secret (PINs, card numbers, names) say anything here.
   */
  auditDetail?(event: { type: string }): Record<string, unknown> | undefined;
  /** Passivated right after each commit: an actor that hears rarely (a reservation) need not stay in memory. */
  passivateAfterCommit?: boolean;
  /**
   * The event types that create an actor of this kind (its first message, nearly always). On one, an actor not
   * resident is assumed new rather than read: if it exists after all (a message sent again), its commit is
   * refused as a version conflict and the message is decided again from the stored snapshot.
   */
  createdBy?: readonly string[];
  /**
   * The event as its machine is told it when the message is sent again (`again`): a turn of it that ended
   * without a commit may have run vendor calls (a credential's issue names the locks it may have issued on).
   */
  sentAgain?(event: { type: string }): { type: string };
}

/** Whether an event of `eventType` creates an actor of `type` (its kind's `createdBy`). */
export function createsActor(type: ActorType, eventType: string): boolean {
  return actorKinds[type].createdBy?.includes(eventType) === true;
}

const credential: ActorKind = {
  type: 'credential',
  machine: credentialMachine,
  createdBy: ['credential.issue'],
  sentAgain(event) {
    if (event.type !== 'credential.issue') return event;
    const e = event as IssueCredentialEvent;
    const mayHaveRun = e.targets.filter((t) => issuesAtOnce(t.vendor, e.kind)).map((t) => t.lockDeviceId);
    return mayHaveRun.length > 0 ? { ...e, mayHaveRun } : e;
  },
  // 2: grants are grant-machine snapshots (machines/grant.ts); 3: the vendor-chosen PINs of the issue
  // are recorded (`pinsAtIssue`), so a later one is announced and read once; 4: a resent issue's sweep
  // (`sweeping`, `swept`) and grants reopened (`grant.reopen`), which code before cannot read (a v3 snapshot
  // is a v4 one as it is).
  machineVersion: 4,
  upgrades: { 1: credentialV1ToV2, 2: credentialV2ToV3, 3: (s) => s },
  aggregate: 'key_credential',
  status: (s) => credentialStatus(s as CredentialSnapshot),
  propertyId: (s) => (s as CredentialSnapshot).context.propertyId,
  project(snap, version) {
    const s = snap as CredentialSnapshot;
    const c = s.context;
    // Nothing to show before an issue, nor for a credential revoked before it was ever issued (nor while what a
    // lost turn may have made for it is swept: it never was, and comes back a tombstone).
    if (s.value === 'new' || s.value === 'tombstoned' || s.value === 'sweeping') return null;
    const fresh = newPinRefs(c);
    return {
      table: 'key_credentials',
      row: {
        tenant_id: c.tenantId,
        id: c.id,
        property_id: c.propertyId,
        reservation_id: c.reservationId,
        holder_kind: c.holder.kind,
        holder_ref: c.holder.ref,
        issued_by: c.issuedBy ?? null,
        kind: c.kind,
        rooms: c.rooms,
        areas: c.areas,
        valid_from: c.validFrom,
        valid_until: c.validUntil,
        vendor: c.grants[0]?.context.vendor ?? null,
        status: credentialStatus(s),
        grants: JSON.stringify(
          c.grants.map((grant) => {
            const g = grant.context;
            return {
              roomId: g.roomId,
              lockDeviceId: g.lockDeviceId,
              vendor: g.vendor,
              vendorRef: g.vendorRef,
              status: grantStatus(grant),
              attempts: g.op?.attempt ?? 0,
              lastError: g.lastError ? { code: g.lastError.code, message: g.lastError.message } : null,
              // Which of the credential's PINs the lock holds (not in the REST schema: the issuing answer uses it).
              pinIndex: g.held?.pinIndex ?? g.want.pinIndex,
              // Sealed vendor-chosen PIN, opened only for the issuing answer or, when new since the issue (a
              // room moved onto a vendor that chooses PINs), for its one read (not in the REST schema either).
              ...(g.vendorSecret
                ? { vendorSecret: g.vendorSecret, pinRef: pinRef(g), newPin: fresh.has(pinRef(g)) }
                : {}),
            };
          }),
        ),
        failure: c.failure ? JSON.stringify(c.failure) : null,
        version,
        created_at: c.createdAt,
        updated_at: c.updatedAt,
      },
    };
  },
};

const property: ActorKind = {
  type: 'property',
  machine: propertyMachine,
  machineVersion: 1,
  aggregate: 'property',
  status: (s) => String(s.value),
  propertyId: (s) => (s as PropertySnapshot).context.id,
  // A property's events are its configuration (names, timezone, adapter status and config, policy); an
  // adapter config names its secrets, never holds them (the secrets are written on a route of their own).
  auditDetail: ({ type: _type, ...changed }) => changed,
  project(snap, version) {
    const s = snap as PropertySnapshot;
    const c = s.context;
    if (s.value === 'new') return null;
    return {
      table: 'properties',
      row: {
        tenant_id: c.tenantId,
        id: c.id,
        name: c.name,
        timezone: c.timezone,
        vendor_adapters: JSON.stringify(c.vendorAdapters),
        key_kind_policy: JSON.stringify(c.keyKindPolicy),
        version,
        created_at: c.createdAt,
        updated_at: c.updatedAt,
      },
    };
  },
};

const lockDevice: ActorKind = {
  type: 'lockDevice',
  machine: lockDeviceMachine,
  machineVersion: 1,
  aggregate: 'lock_device',
  status: (s) => lockDeviceStatus(s as LockDeviceSnapshot),
  propertyId: (s) => (s as LockDeviceSnapshot).context.propertyId,
  project(snap, version) {
    const s = snap as LockDeviceSnapshot;
    const c = s.context;
    if (s.value === 'new') return null;
    return {
      table: 'lock_devices',
      row: {
        tenant_id: c.tenantId,
        id: c.id,
        property_id: c.propertyId,
        room_id: c.roomId,
        vendor: c.vendor,
        vendor_device_ref: c.vendorDeviceRef,
        areas: c.areas,
        status: lockDeviceStatus(s),
        version,
        created_at: c.createdAt,
        updated_at: c.updatedAt,
      },
    };
  },
};

/** The reservation keeps no read model and publishes nothing: its credentials do. */
const reservation: ActorKind = {
  type: 'reservation',
  machine: reservationMachine,
  createdBy: ['reservation.confirmed'],
  machineVersion: 1,
  aggregate: 'reservation',
  status: (s) => String(s.value),
  propertyId: (s) => (s as ReservationSnapshot).context.propertyId,
  project: () => null,
  // A reservation hears from the platform a few times in a stay, days apart.
  passivateAfterCommit: true,
};

/** A member of staff keeps no read model of its own: its master keys are credentials, which do. */
const staff: ActorKind = {
  type: 'staff',
  machine: staffMachine,
  machineVersion: 1,
  aggregate: 'staff',
  status: (s) => String(s.value),
  propertyId: (s) => (s as StaffSnapshot).context.propertyId,
  project: () => null,
  // Shifts start and end a few times a day.
  passivateAfterCommit: true,
};

/** A vendor switch is read from its snapshot (GET /vendor-switches/:id): no read-model table of its own. */
const vendorSwitch: ActorKind = {
  type: 'vendorSwitch',
  machine: vendorSwitchMachine,
  machineVersion: 1,
  aggregate: 'vendor_switch',
  status: (s) => String(s.value),
  propertyId: (s) => (s as VendorSwitchSnapshot).context.propertyId,
  project: () => null,
  // Its events are an operator's commands and their facts (rooms, vendors): no secret in them.
  auditDetail: ({ type: _type, ...detail }) => detail,
};

export const actorKinds: Record<ActorType, ActorKind> = {
  credential,
  property,
  lockDevice,
  reservation,
  staff,
  vendorSwitch,
};
