/** Wire schemas of the REST contract: validation, serialisation and the OpenAPI document come from these. */
import Type from 'typebox';
import { errorCodes } from '../errors.ts';

export const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' });
const Time = Type.String({ format: 'date-time' });
export const Vendor = Type.Union(
  ['ttlock', 'salto-ks', 'salto-space', 'vostio', 'seam', 'generic-wiegand'].map((v) => Type.Literal(v)),
);
const KeyKind = Type.Union([Type.Literal('pin'), Type.Literal('mobile_key'), Type.Literal('card')]);

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    code: Type.Union(errorCodes.map((c) => Type.Literal(c))),
  },
  { $id: 'Problem', description: 'application/problem+json' },
);

export const CreateProperty = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    timezone: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);

export const Property = Type.Object({
  id: Type.String(),
  name: Type.String(),
  timezone: Type.String(),
  vendorAdapters: Type.Record(
    Type.String(),
    Type.Object({ status: Type.String(), updatedAt: Type.String() }),
  ),
  keyKindPolicy: Type.Record(Type.String(), Type.Unknown()),
  version: Type.Integer(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const VendorAdapterBody = Type.Object(
  {
    status: Type.Union(
      [
        Type.Literal('active'),
        Type.Literal('provisional'),
        Type.Literal('disabled'),
        Type.Literal('enabled'),
      ],
      {
        description:
          'active: issues. provisional: issues only for credentials that name it (provisionalVendors), a pilot. disabled: issues nothing new; revokes and changes of credentials already on it still run. enabled: deprecated, read as active.',
      },
    ),
    // Secrets appear only as references (env:NAME), never as values.
    config: Type.Record(
      Type.String({ maxLength: 64 }),
      // Long enough for a PEM certificate (Vostio's CA and client certificate).
      Type.Union([Type.String({ maxLength: 8000 }), Type.Number(), Type.Boolean()]),
    ),
  },
  { additionalProperties: false },
);

const Preference = Type.Object(
  { preferredOrder: Type.Array(Vendor, { maxItems: 10 }) },
  { additionalProperties: false },
);
export const KeyKindPolicyBody = Type.Object(
  { pin: Type.Optional(Preference), mobile_key: Type.Optional(Preference), card: Type.Optional(Preference) },
  { additionalProperties: false },
);

export const CreateLockDevice = Type.Object(
  {
    propertyId: Id,
    roomId: Id,
    vendor: Vendor,
    vendorDeviceRef: Type.String({ minLength: 1, maxLength: 200 }),
    areas: Type.Optional(Type.Array(Id, { maxItems: 50 })),
  },
  { additionalProperties: false },
);

export const LockDevice = Type.Object({
  id: Type.String(),
  propertyId: Type.String(),
  roomId: Type.String(),
  vendor: Type.String(),
  vendorDeviceRef: Type.String(),
  areas: Type.Array(Type.String()),
  status: Type.String(),
  version: Type.Integer(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const CreateKeyCredential = Type.Object(
  {
    propertyId: Id,
    reservationId: Type.Optional(Id),
    holder: Type.Object(
      {
        kind: Type.Union([Type.Literal('guest'), Type.Literal('staff')]),
        ref: Type.String({ minLength: 1, maxLength: 200 }),
      },
      { additionalProperties: false },
    ),
    kind: KeyKind,
    rooms: Type.Array(Id, { minItems: 1, maxItems: 20 }),
    areas: Type.Optional(Type.Array(Id, { maxItems: 50 })),
    validFrom: Time,
    validUntil: Time,
    recipient: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 100,
        description:
          "kind mobile_key: the guest's account on the lock vendor's app, where mobile keys go to app accounts (TTLock).",
      }),
    ),
    cardNumber: Type.Optional(
      Type.String({
        pattern: '^[0-9]{4,20}$',
        description: "kind card: the card's number, where the lock registers cards by number (TTLock).",
      }),
    ),
    provisionalVendors: Type.Optional(
      Type.Array(Vendor, {
        maxItems: 5,
        description:
          'Provisional adapters (a pilot) this credential may be issued on; a provisional adapter is never chosen otherwise.',
      }),
    ),
  },
  { additionalProperties: false },
);

const Grant = Type.Object({
  lockDeviceId: Type.String(),
  roomId: Type.Optional(Type.String()),
  vendor: Type.String(),
  vendorRef: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
});

export const KeyCredential = Type.Object({
  id: Type.String(),
  propertyId: Type.String(),
  reservationId: Type.Union([Type.String(), Type.Null()]),
  holder: Type.Object({ kind: Type.String(), ref: Type.String() }),
  kind: Type.String(),
  rooms: Type.Array(Type.String()),
  areas: Type.Array(Type.String()),
  validFrom: Type.String(),
  validUntil: Type.String(),
  vendor: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  grants: Type.Array(Grant),
  failure: Type.Optional(Type.Object({ code: Type.String(), reason: Type.String() })),
  version: Type.Integer(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  pin: Type.Optional(Type.String({ description: 'Returned once, in the issuing response only.' })),
  doorPins: Type.Optional(
    Type.Array(Type.Object({ lockDeviceId: Type.String(), pin: Type.String() }), {
      description:
        "Where a vendor chooses PINs itself (Salto KS), each door's PIN; returned once, in the issuing response only.",
    }),
  ),
  pinEntry: Type.Optional(
    Type.String({
      description:
        "How the guest enters the PIN at this vendor's keypads, where it is more than the digits (Salto KS: " +
        'the PIN, then #). Only with a PIN, in the issuing response.',
    }),
  ),
});

/** A read of the PINs vendors chose anew after the issue (a room moved onto a vendor that chooses PINs). */
export const PinRead = Type.Object({
  credentialId: Type.String(),
  pins: Type.Array(Type.Object({ roomId: Type.String(), lockDeviceId: Type.String(), pin: Type.String() }), {
    description: "Each door's new PIN; readable once.",
  }),
  pinEntry: Type.Optional(
    Type.String({ description: "How the guest enters the PIN at the vendor's keypads." }),
  ),
});

export const UpdateKeyCredential = Type.Object(
  { validFrom: Type.Optional(Time), validUntil: Type.Optional(Time) },
  { additionalProperties: false, minProperties: 1 },
);

export const RevokeBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

export const ListQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 400 })),
};

export const pageOf = <T extends ReturnType<typeof Type.Object>>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const IdParams = Type.Object({ id: Id });

/** Response schemas for the problem+json answers a route gives, by status. */
export const problemResponses = <S extends number>(...statuses: S[]) =>
  Object.fromEntries(statuses.map((s) => [s, { $ref: 'Problem#' }])) as Record<S, { $ref: 'Problem#' }>;
