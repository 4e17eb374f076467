/** The platform events this service consumes (DESIGN.md, NATS contract), as TypeBox schemas. */
import Type from 'typebox';

const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' });
const Time = Type.String({ format: 'date-time' });

export const ReservationConfirmed = Type.Object({
  eventId: Type.String({ minLength: 1, maxLength: 200 }),
  tenantId: Id,
  propertyId: Id,
  reservationId: Id,
  guestRef: Type.String({ minLength: 1, maxLength: 200 }),
  rooms: Type.Array(Id, { minItems: 1, maxItems: 20 }),
  checkIn: Time,
  checkOut: Time,
  keyKinds: Type.Optional(
    Type.Array(Type.Union([Type.Literal('pin'), Type.Literal('mobile_key'), Type.Literal('card')]), {
      minItems: 1,
      maxItems: 3,
    }),
  ),
});

export const ReservationEnded = Type.Object({
  eventId: Type.String({ minLength: 1, maxLength: 200 }),
  tenantId: Id,
  propertyId: Id,
  reservationId: Id,
});

export const ReservationDatesChanged = Type.Object({
  eventId: Type.String({ minLength: 1, maxLength: 200 }),
  tenantId: Id,
  propertyId: Id,
  reservationId: Id,
  checkIn: Time,
  checkOut: Time,
});

/** `staff.shift.started.v1` and `.ended.v1` (the same shape: the shift as it is). */
export const StaffShift = Type.Object({
  eventId: Type.String({ minLength: 1, maxLength: 200 }),
  tenantId: Id,
  propertyId: Id,
  staffId: Id,
  shiftId: Id,
  areas: Type.Array(Id, { minItems: 1, maxItems: 50 }),
  startsAt: Time,
  endsAt: Time,
});

export const UserDeactivated = Type.Object({
  eventId: Type.String({ minLength: 1, maxLength: 200 }),
  tenantId: Id,
  userId: Id,
});

export const ReservationRoomsChanged = Type.Object({
  eventId: Type.String({ minLength: 1, maxLength: 200 }),
  tenantId: Id,
  propertyId: Id,
  reservationId: Id,
  rooms: Type.Array(Id, { minItems: 1, maxItems: 20 }),
});

/**
 * The schema each consumed subject is checked with (`src/jobs/platformEvents.ts`), by the subject after the
 * platform root: what the AsyncAPI document says of each.
 */
export const platformEventSchemas = {
  'reservation.confirmed.v1': ReservationConfirmed,
  // A reservation moved in from another PMS: as a confirmation (never issued for a check-in in the past).
  'reservation.imported.v1': ReservationConfirmed,
  'reservation.dates_changed.v1': ReservationDatesChanged,
  'reservation.rooms_changed.v1': ReservationRoomsChanged,
  'reservation.checked_out.v1': ReservationEnded,
  'reservation.cancelled.v1': ReservationEnded,
  'staff.shift.started.v1': StaffShift,
  'staff.shift.ended.v1': StaffShift,
  'iam.user.deactivated.v1': UserDeactivated,
} as const;
