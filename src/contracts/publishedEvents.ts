/**
 * The domain events this service publishes (`melmastoon.lock.<aggregate>.<verb>.v1`, DESIGN.md), as TypeBox
 * schemas: the envelope `buildCommit` writes (src/actors/commit.ts) around each machine's `publishEvent` data,
 * one schema per aggregate and verb. The AsyncAPI document is generated from them, and under
 * `LOCK_STRICT_EVENTS=1` (every test run) each event is checked against its schema before it is committed.
 *
 * The schemas are open, as the contract is: v1 may gain optional fields, so a consumer ignores fields it does
 * not know. The producer's check closes them (`closed`): a field no schema declares — a secret, say — fails
 * the tests instead of reaching the outbox.
 */
import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { CredentialStatus, LockDeviceStatus } from '../machines/index.ts';

const Id = Type.String({ minLength: 1, maxLength: 256 });
const Time = Type.String({ format: 'date-time' });
const Count = Type.Integer({ minimum: 0 });
const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const credentialStatuses = [
  'requested',
  'issuing',
  'active',
  'updating',
  'revoking',
  'revoked',
  'failed',
  'expired',
  'provisional',
] as const;
export const lockDeviceStatuses = ['registered', 'active', 'decommissioned'] as const;
/** A vendor switch's status is its machine state (src/machines/vendorSwitch.ts), as `GET /vendor-switches/:id`. */
export const vendorSwitchStatuses = [
  'new',
  'planned',
  'dualVendor',
  'cutover',
  'draining',
  'decommissioning',
  'paused',
  'completed',
  'aborted',
] as const;

// Compile-time: the status lists are exactly the machines' status unions.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export type StatusListsMatchMachines = [
  Same<(typeof credentialStatuses)[number], CredentialStatus>,
  Same<(typeof lockDeviceStatuses)[number], LockDeviceStatus>,
];

const CredentialStatusSchema = literals(credentialStatuses);
const LockDeviceStatusSchema = literals(lockDeviceStatuses);
const VendorSwitchStatusSchema = literals(vendorSwitchStatuses);

/** Why a credential (or one of its locks) failed: a stable code and a sentence (ours, or a vendor's error text). */
const Failure = Type.Object({
  code: Type.String({ maxLength: 100 }),
  // Unbounded: it may name many rooms (a master key's), or quote a vendor's message after a sentence of ours.
  reason: Type.String(),
});
/** Where the credential lives at its vendors: one entry per lock (the vendor's reference, never the PIN). */
const Grants = Type.Array(
  Type.Object({ lockDeviceId: Id, vendor: Id, vendorRef: Type.Union([Type.String(), Type.Null()]) }),
);
const Window = { validFrom: Time, validUntil: Time };

/** The envelope every published event shares; `data.status` is the aggregate's status after the commit. */
function event<S extends TSchema, D extends Record<string, TSchema>>(
  description: string,
  status: S,
  data: D,
) {
  return Type.Object(
    {
      eventId: Type.String({ format: 'uuid', description: 'Also the `Nats-Msg-Id` header.' }),
      occurredAt: Time,
      tenantId: Id,
      propertyId: Id,
      aggregateId: Id,
      version: Type.Integer({
        minimum: 1,
        description: "The aggregate's version this event was committed at.",
      }),
      data: Type.Object({ status, ...data }),
    },
    { description },
  );
}

const credential = <D extends Record<string, TSchema>>(description: string, data: D) =>
  event(description, CredentialStatusSchema, data);
const lockDevice = <D extends Record<string, TSchema>>(description: string, data: D) =>
  event(description, LockDeviceStatusSchema, data);
const vendorSwitch = <D extends Record<string, TSchema>>(description: string, data: D) =>
  event(description, VendorSwitchStatusSchema, data);
/** A staff master key's events: `aggregateId` is its credential's id, `status` the credential's. */
const MasterKey = {
  credentialId: Id,
  staffId: Id,
  areas: Type.Array(Id),
  ...Window,
};

/** Every published event's schema, by `<aggregate>.<verb>` (the subject without its root and `.v1`). */
export const publishedEventSchemas = {
  'key_credential.requested': credential(
    'A credential was asked for (its issue starts, or it failed at once).',
    {},
  ),
  'key_credential.issued': credential('Every lock of the credential holds it.', {
    ...Window,
    grants: Grants,
  }),
  'key_credential.updated': credential(
    'Every lock holds the new window; `newPins` names doors whose vendor chose a new PIN (read it once).',
    {
      ...Window,
      grants: Grants,
      newPins: Type.Optional(Type.Array(Type.Object({ roomId: Id, lockDeviceId: Id }))),
    },
  ),
  'key_credential.revoked': credential('Every grant is gone at its vendor.', {
    reason: Type.Union([Type.String(), Type.Null()]),
  }),
  'key_credential.expired': credential('The window ended and every grant is gone at its vendor.', {}),
  'key_credential.failed': credential('The credential could not be issued; its grants are closed.', {
    failure: Type.Union([Failure, Type.Null()]),
  }),
  'key_credential.revoke_stalled': credential(
    'A vendor has not confirmed a revoke on one lock (published once per lock and generation); the credential stays `revoking`.',
    { failure: Failure, lockDeviceId: Id, generation: Count },
  ),
  'key_credential.move_failed': credential(
    "A room's new lock (vendor cutover) refused the credential; the old lock keeps it.",
    { roomId: Id, lockDeviceId: Id, failure: Type.Union([Failure, Type.Null()]) },
  ),
  'master_key.issued': credential('A staff master key (a staff credential over areas) is issued.', {
    ...MasterKey,
    locks: Count,
  }),
  'master_key.revoked': credential('A staff master key is gone: revoked, or expired (`reason` "expired").', {
    ...MasterKey,
    reason: Type.String(),
  }),
  'lock_device.registered': lockDevice('A lock device was registered in a room.', {
    roomId: Id,
    vendor: Id,
    vendorDeviceRef: Type.String({ minLength: 1, maxLength: 256 }),
  }),
  'lock_device.battery_low': lockDevice(
    'The battery fell below the low mark (published once until it recovers).',
    {
      battery: Type.Number({ minimum: 0, maximum: 100 }),
    },
  ),
  'lock_device.offline': lockDevice('The vendor reports the lock offline.', {}),
  'lock_device.online': lockDevice('The vendor reports the lock online again.', {}),
  'lock_device.decommissioned': lockDevice('The lock device was decommissioned.', {
    reason: Type.String({ maxLength: 2000 }),
  }),
  'vendor_switch.started': vendorSwitch('Both vendors are enabled, the new one preferred.', {
    from: Id,
    to: Id,
    rooms: Count,
  }),
  'vendor_switch.room_cutover': vendorSwitch("A room's new lock is registered; its credentials move to it.", {
    roomId: Id,
    lockDeviceId: Id,
    credentialsMoved: Count,
  }),
  'vendor_switch.draining': vendorSwitch('No new issuance on the old vendor; revokes still run.', {
    from: Id,
  }),
  'vendor_switch.completed': vendorSwitch(
    "The switch is complete; `secrets` lists by name what was done with the old vendor's secrets.",
    {
      from: Id,
      to: Id,
      moved: Count,
      secrets: Type.Object({
        revokedAtVendor: Type.Array(Type.String()),
        destroyed: Type.Array(Type.String()),
        rotateAtVendor: Type.Array(Type.String()),
        webhookRemoved: Type.Boolean(),
      }),
    },
  ),
  'vendor_switch.aborted': vendorSwitch('The switch was aborted; the previous policy is restored.', {
    reason: Type.String({ maxLength: 2000 }),
  }),
} as const;

export type PublishedEventName = keyof typeof publishedEventSchemas;
export type PublishedEvent<N extends PublishedEventName> = Static<(typeof publishedEventSchemas)[N]>;

/** The version every schema here describes: the subject's last token. */
export const PUBLISHED_VERSION = 'v1';

/** `<aggregate>.<verb>` of a published subject (`<root>.<aggregate>.<verb>.v1`); null for another version. */
export function publishedEventName(subject: string): string | null {
  const tokens = subject.split('.');
  if (tokens.length < 3 || tokens.at(-1) !== PUBLISHED_VERSION) return null;
  return tokens.slice(-3, -1).join('.');
}

/**
 * A copy of a JSON schema with every object closed (`additionalProperties: false` where it says nothing of
 * them): what the producer may send, as opposed to what a consumer must accept. Pure.
 */
export function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = closed(v);
  const open = !('additionalProperties' in out) && !('patternProperties' in out);
  if (out.type === 'object' && open) out.additionalProperties = false;
  return out;
}

const checkers = new Map<string, ReturnType<typeof Compile>>();
function checkerOf(name: string): ReturnType<typeof Compile> | undefined {
  let c = checkers.get(name);
  if (c) return c;
  const schema = Object.hasOwn(publishedEventSchemas, name)
    ? publishedEventSchemas[name as PublishedEventName]
    : undefined;
  if (!schema) return undefined;
  // A JSON round trip drops TypeBox's own keys; the closed copy is plain JSON Schema, which Compile takes.
  c = Compile(closed(JSON.parse(JSON.stringify(schema))) as TSchema);
  checkers.set(name, c);
  return c;
}

/**
 * Why `payload` is not a valid event for `subject` (no schema for the subject, or the first field that is
 * wrong, undeclared fields included); null when it is. Pure (compiled checkers are cached).
 */
export function publishedEventProblem(subject: string, payload: unknown): string | null {
  const name = publishedEventName(subject);
  const check = name === null ? undefined : checkerOf(name);
  if (!check) return `no published-event schema for ${subject}`;
  if (check.Check(payload)) return null;
  for (const e of check.Errors(payload)) {
    const where = e.instancePath || '/';
    return e.keyword === 'boolean' ? `${where}: not in the schema` : `${where} ${e.message}`;
  }
  return 'invalid';
}
