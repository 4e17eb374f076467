/**
 * The messages each actor kind accepts, as TypeBox schemas: a message is checked at the mailbox before its
 * actor decides anything, and one of an unknown type or shape is rejected with the reason (recorded in
 * `rejected_messages`), never taken for "nothing to do". Each schema's static type is held to its machine's
 * event union at compile time (the `satisfies` checks below), so a field renamed in one is an error in both.
 */
import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type {
  CredentialEvent,
  LockDeviceEvent,
  PropertyEvent,
  ReservationEvent,
  StaffEvent,
  VendorSwitchEvent,
} from '../machines/index.ts';
import type { ActorType } from './partitioning.ts';

const Text = Type.String({ maxLength: 2000 });
/** The most locks one credential covers (a master key on a large property's areas). */
const MAX_LOCKS = 1000;
const Id = Type.String({ minLength: 1, maxLength: 256 });
const Time = Type.String({ minLength: 10, maxLength: 40 });
const At = { at: Time };
const KeyKind = Type.Union([Type.Literal('pin'), Type.Literal('mobile_key'), Type.Literal('card')]);
const Sealed = Type.String({ maxLength: 4000 });

const EffectError = Type.Object({
  code: Type.String({ maxLength: 100 }),
  message: Text,
  retryable: Type.Boolean(),
  retryAfterMs: Type.Optional(Type.Number({ minimum: 0 })),
});
const Outcome = {
  ...At,
  operationId: Id,
  attempt: Type.Optional(Type.Integer({ minimum: 0 })),
};
const done = <T extends string>(type: T) =>
  Type.Object({
    type: Type.Literal(type),
    ...Outcome,
    vendorRef: Type.Optional(Type.Union([Type.String({ maxLength: 512 }), Type.Null()])),
    vendorSecret: Type.Optional(Sealed),
  });
const failed = <T extends string>(type: T) =>
  Type.Object({ type: Type.Literal(type), ...Outcome, error: EffectError });

const GrantTarget = Type.Object({
  roomId: Id,
  lockDeviceId: Id,
  vendor: Id,
  vendorDeviceRef: Type.String({ maxLength: 256 }),
});

const RetryPolicy = Type.Object({
  maxAttempts: Type.Integer({ minimum: 1, maximum: 100 }),
  baseDelayMs: Type.Integer({ minimum: 0 }),
  maxDelayMs: Type.Integer({ minimum: 0 }),
  revokeAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 300 })),
});

const credential = {
  'credential.issue': Type.Object({
    type: Type.Literal('credential.issue'),
    ...At,
    propertyId: Id,
    reservationId: Type.Union([Id, Type.Null()]),
    holder: Type.Object({ kind: Type.Union([Type.Literal('guest'), Type.Literal('staff')]), ref: Id }),
    kind: KeyKind,
    // A staff master key covers every lock of its areas: hundreds of rooms.
    rooms: Type.Array(Id, { maxItems: MAX_LOCKS }),
    areas: Type.Array(Id, { maxItems: 50 }),
    validFrom: Time,
    validUntil: Time,
    secret: Type.Union([Sealed, Type.Null()]),
    spareSecrets: Type.Optional(Type.Array(Sealed, { maxItems: 10 })),
    targets: Type.Array(GrantTarget, { maxItems: MAX_LOCKS }),
    unresolved: Type.Array(Type.Object({ roomId: Id, code: Type.String({ maxLength: 100 }) }), {
      maxItems: MAX_LOCKS,
    }),
    retry: Type.Optional(RetryPolicy),
    linkTo: Type.Optional(Type.Union([Id, Type.Null()])),
    linkToStaff: Type.Optional(Type.Union([Id, Type.Null()])),
    issuedBy: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 300 }), Type.Null()])),
    adopted: Type.Optional(
      Type.Union([Type.Object({ vendorRef: Type.String({ minLength: 1, maxLength: 200 }) }), Type.Null()]),
    ),
    windowSeq: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  }),
  'credential.revoke': Type.Object({
    type: Type.Literal('credential.revoke'),
    ...At,
    reason: Text,
    priority: Type.Optional(Type.Boolean()),
  }),
  'credential.update': Type.Object({
    type: Type.Literal('credential.update'),
    ...At,
    validFrom: Type.Optional(Time),
    validUntil: Type.Optional(Time),
    seq: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  }),
  'credential.grantLost': Type.Object({
    type: Type.Literal('credential.grantLost'),
    ...At,
    lockDeviceId: Id,
    vendorRef: Type.String({ maxLength: 512 }),
  }),
  'credential.moveRoom': Type.Object({
    type: Type.Literal('credential.moveRoom'),
    ...At,
    roomId: Id,
    from: Id,
    target: GrantTarget,
  }),
  'credential.changeRooms': Type.Object({
    type: Type.Literal('credential.changeRooms'),
    ...At,
    rooms: Type.Array(Id, { minItems: 1, maxItems: MAX_LOCKS }),
    targets: Type.Array(GrantTarget, { maxItems: MAX_LOCKS }),
    seq: Type.Integer({ minimum: 0 }),
  }),
  'timer.expire': Type.Object({ type: Type.Literal('timer.expire'), ...At, validUntil: Type.Optional(Time) }),
  'timer.retryGrant': Type.Object({
    type: Type.Literal('timer.retryGrant'),
    ...At,
    lockDeviceId: Id,
    token: Type.Optional(Type.Integer({ minimum: 0 })),
  }),
  'effect.done.issueGrant': done('effect.done.issueGrant'),
  'effect.failed.issueGrant': failed('effect.failed.issueGrant'),
  'effect.done.modifyGrant': done('effect.done.modifyGrant'),
  'effect.failed.modifyGrant': failed('effect.failed.modifyGrant'),
  'effect.done.revokeGrant': done('effect.done.revokeGrant'),
  'effect.failed.revokeGrant': failed('effect.failed.revokeGrant'),
} satisfies { [K in CredentialEvent['type']]: TSchema };

const lockDevice = {
  'lockDevice.register': Type.Object({
    type: Type.Literal('lockDevice.register'),
    ...At,
    propertyId: Id,
    roomId: Id,
    vendor: Id,
    vendorDeviceRef: Type.String({ minLength: 1, maxLength: 256 }),
    areas: Type.Array(Id, { maxItems: 50 }),
  }),
  'lockDevice.decommission': Type.Object({
    type: Type.Literal('lockDevice.decommission'),
    ...At,
    reason: Text,
  }),
  'lockDevice.vendorReport': Type.Object({
    type: Type.Literal('lockDevice.vendorReport'),
    ...At,
    battery: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    online: Type.Optional(Type.Boolean()),
    accessAt: Type.Optional(Time),
  }),
} satisfies { [K in LockDeviceEvent['type']]: TSchema };

const SwitchOrder = Type.Object({ switchId: Id, seq: Type.Integer({ minimum: 0 }) });
const AdapterStatus = Type.Union([
  Type.Literal('active'),
  Type.Literal('provisional'),
  Type.Literal('disabled'),
  // The former name of `active` (messages sent before the rename).
  Type.Literal('enabled'),
]);
const property = {
  'property.create': Type.Object({
    type: Type.Literal('property.create'),
    ...At,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    timezone: Type.String({ minLength: 1, maxLength: 64 }),
  }),
  'property.setVendorAdapter': Type.Object({
    type: Type.Literal('property.setVendorAdapter'),
    ...At,
    vendor: Id,
    status: AdapterStatus,
    config: Type.Record(Type.String(), Type.Unknown()),
  }),
  'property.setKeyKindPolicy': Type.Object({
    type: Type.Literal('property.setKeyKindPolicy'),
    ...At,
    policy: Type.Record(Type.String(), Type.Object({ preferredOrder: Type.Array(Id, { maxItems: 20 }) })),
    switchOrder: Type.Optional(SwitchOrder),
  }),
  'property.setAdapterStatus': Type.Object({
    type: Type.Literal('property.setAdapterStatus'),
    ...At,
    vendor: Id,
    status: Type.Union([Type.Literal('active'), Type.Literal('provisional'), Type.Literal('disabled')]),
    switchOrder: Type.Optional(SwitchOrder),
  }),
  'property.claimSwitch': Type.Object({ type: Type.Literal('property.claimSwitch'), ...At, switchId: Id }),
  'property.releaseSwitch': Type.Object({
    type: Type.Literal('property.releaseSwitch'),
    ...At,
    switchId: Id,
  }),
} satisfies { [K in PropertyEvent['type']]: TSchema };

const Window = { checkIn: Time, checkOut: Time };
const Order = Type.Object({ epoch: Type.String({ maxLength: 64 }), seq: Type.Integer({ minimum: 0 }) });
const reservation = {
  'reservation.confirmed': Type.Object({
    type: Type.Literal('reservation.confirmed'),
    ...At,
    eventId: Id,
    order: Order,
    propertyId: Id,
    ...Window,
    issues: Type.Array(Type.Object({ credentialId: Id, event: credential['credential.issue'] }), {
      maxItems: 3,
    }),
  }),
  'reservation.datesChanged': Type.Object({
    type: Type.Literal('reservation.datesChanged'),
    ...At,
    eventId: Id,
    order: Order,
    ...Window,
  }),
  'reservation.ended': Type.Object({
    type: Type.Literal('reservation.ended'),
    ...At,
    eventId: Id,
    order: Order,
    reason: Type.Union([Type.Literal('checked_out'), Type.Literal('cancelled')]),
  }),
  'reservation.roomsChanged': Type.Object({
    type: Type.Literal('reservation.roomsChanged'),
    ...At,
    eventId: Id,
    order: Order,
    rooms: Type.Array(Id, { minItems: 1, maxItems: 20 }),
    plans: Type.Record(
      Type.String(),
      Type.Object({
        targets: Type.Array(GrantTarget, { maxItems: 20 }),
        unresolved: Type.Array(Type.Object({ roomId: Id, code: Type.String({ maxLength: 100 }) }), {
          maxItems: 20,
        }),
      }),
    ),
  }),
  'reservation.credentialLinked': Type.Object({
    type: Type.Literal('reservation.credentialLinked'),
    ...At,
    credentialId: Id,
    kind: KeyKind,
  }),
} satisfies { [K in ReservationEvent['type']]: TSchema };

const Platform = { ...At, eventId: Id, order: Order };
const staff = {
  'staff.shiftStarted': Type.Object({
    type: Type.Literal('staff.shiftStarted'),
    ...Platform,
    shiftId: Id,
    propertyId: Id,
    startsAt: Time,
    endsAt: Time,
    issues: Type.Array(Type.Object({ credentialId: Id, event: credential['credential.issue'] }), {
      maxItems: 3,
    }),
  }),
  'staff.shiftEnded': Type.Object({
    type: Type.Literal('staff.shiftEnded'),
    ...Platform,
    shiftId: Id,
    propertyId: Id,
  }),
  'staff.deactivated': Type.Object({
    type: Type.Literal('staff.deactivated'),
    ...Platform,
    credentialIds: Type.Optional(Type.Array(Id, { maxItems: 10_000 })),
  }),
  'staff.credentialLinked': Type.Object({
    type: Type.Literal('staff.credentialLinked'),
    ...At,
    credentialId: Id,
    kind: KeyKind,
    propertyId: Id,
  }),
} satisfies { [K in StaffEvent['type']]: TSchema };

const Policy = Type.Record(Type.String(), Type.Object({ preferredOrder: Type.Array(Id, { maxItems: 20 }) }));
const vendorSwitch = {
  'vendorSwitch.plan': Type.Object({
    type: Type.Literal('vendorSwitch.plan'),
    ...At,
    propertyId: Id,
    from: Id,
    to: Id,
    kinds: Type.Array(KeyKind, { minItems: 1, maxItems: 3 }),
    pilotRoom: Type.Union([Id, Type.Null()]),
    rooms: Type.Array(Type.Object({ roomId: Id, oldDeviceId: Id }), { maxItems: 5000 }),
    previousPolicy: Policy,
    previousStatuses: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Union([Type.Literal('active'), Type.Literal('provisional'), Type.Literal('disabled')]),
      ),
    ),
  }),
  'vendorSwitch.advance': Type.Object({
    type: Type.Literal('vendorSwitch.advance'),
    ...At,
    legacyLive: Type.Integer({ minimum: 0 }),
  }),
  'vendorSwitch.roomCutover': Type.Object({
    type: Type.Literal('vendorSwitch.roomCutover'),
    ...At,
    roomId: Id,
    newDevice: Type.Object({
      id: Id,
      vendorDeviceRef: Type.String({ minLength: 1, maxLength: 256 }),
      areas: Type.Array(Id, { maxItems: 50 }),
    }),
    credentialIds: Type.Array(Id, { maxItems: 10_000 }),
  }),
  'vendorSwitch.pause': Type.Object({ type: Type.Literal('vendorSwitch.pause'), ...At }),
  'vendorSwitch.resume': Type.Object({ type: Type.Literal('vendorSwitch.resume'), ...At }),
  'vendorSwitch.retiring': Type.Object({
    type: Type.Literal('vendorSwitch.retiring'),
    ...At,
    revokedAtVendor: Type.Array(Id, { maxItems: 50 }),
    destroyed: Type.Array(Id, { maxItems: 50 }),
    rotateAtVendor: Type.Array(Id, { maxItems: 50 }),
    webhookRemoved: Type.Boolean(),
  }),
  'vendorSwitch.retired': Type.Object({ type: Type.Literal('vendorSwitch.retired'), ...At }),
  'vendorSwitch.abort': Type.Object({ type: Type.Literal('vendorSwitch.abort'), ...At, reason: Text }),
} satisfies { [K in VendorSwitchEvent['type']]: TSchema };

// Compile-time: each schema's static type is one of its machine's events.
type Statics<T extends Record<string, TSchema>> = { [K in keyof T]: Static<T[K]> }[keyof T];
type Assignable<A extends B, B> = A;
export type EventSchemasMatchMachines = [
  Assignable<Statics<typeof credential>, CredentialEvent>,
  Assignable<Statics<typeof lockDevice>, LockDeviceEvent>,
  Assignable<Statics<typeof property>, PropertyEvent>,
  Assignable<Statics<typeof reservation>, ReservationEvent>,
  Assignable<Statics<typeof staff>, StaffEvent>,
  Assignable<Statics<typeof vendorSwitch>, VendorSwitchEvent>,
];

const byKind: Record<ActorType, Record<string, TSchema>> = {
  credential,
  lockDevice,
  property,
  reservation,
  staff,
  vendorSwitch,
};
/** Each actor kind's message schemas by event type: what `eventProblem` checks, and what AsyncAPI documents. */
export const actorEventSchemas: Readonly<Record<ActorType, Readonly<Record<string, TSchema>>>> = byKind;

const compiled = new Map<string, ReturnType<typeof Compile>>();

/** Why an actor of `type` cannot take this event (unknown type, or the field that is wrong); null when it can. */
export function eventProblem(type: ActorType, event: { type: string }): string | null {
  const key = `${type}:${event.type}`;
  let check = compiled.get(key);
  if (!check) {
    const schema = Object.hasOwn(byKind[type], event.type) ? byKind[type][event.type] : undefined;
    if (!schema) return `unknown event type ${event.type} for a ${type}`;
    check = Compile(schema);
    compiled.set(key, check);
  }
  const value: unknown = event;
  if (check.Check(value)) return null;
  for (const e of check.Errors(value)) return `${event.type}: ${e.instancePath || '/'} ${e.message}`;
  return `${event.type}: invalid`;
}
