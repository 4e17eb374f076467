/**
 * A vendor switch's plan (the migration plan's §3 "Plan" phase), computed from what the service knows: the
 * rooms on the old vendor, their live credentials, the new vendor's locks. Proposes a room ↔ new-lock
 * mapping (a lock whose name carries the room number), rolling cutover dates, and flags what an operator
 * should look at: rooms with no lock proposed, rooms occupied on their cutover date (safe — credentials move
 * — but the guest gets a new PIN where the new vendor chooses PINs), staff master keys on the room. Pure.
 */
import Type, { type Static } from 'typebox';

export interface PlanRoomInput {
  roomId: string;
  oldDeviceId: string;
  credentials: { id: string; holder: 'guest' | 'staff'; validFrom: string; validUntil: string }[];
}

export const SwitchPlanFile = Type.Object(
  {
    version: Type.Literal(1),
    propertyId: Type.String({ minLength: 1, maxLength: 128 }),
    from: Type.String({ minLength: 1, maxLength: 40 }),
    to: Type.String({ minLength: 1, maxLength: 40 }),
    kinds: Type.Array(Type.Union([Type.Literal('pin'), Type.Literal('mobile_key'), Type.Literal('card')]), {
      minItems: 1,
      maxItems: 3,
    }),
    pilotRoom: Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()]),
    /** Set by `apply` once the switch exists: a restarted apply carries on with it. */
    switchId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    rooms: Type.Array(
      Type.Object(
        {
          roomId: Type.String({ minLength: 1, maxLength: 128 }),
          oldDeviceId: Type.String({ minLength: 1, maxLength: 128 }),
          /** The new vendor's lock for the room; null until someone says which (edit the file). */
          vendorDeviceRef: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]),
          cutoverDate: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
          liveCredentials: Type.Integer({ minimum: 0 }),
          staffKeys: Type.Integer({ minimum: 0 }),
          occupiedOnCutover: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 5000 },
    ),
    warnings: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);
export type SwitchPlan = Static<typeof SwitchPlanFile>;

const DAY = 86_400_000;

/** The new vendor's lock whose name carries the room number as a word ("Room 101", "101-A"), if one does. */
export function proposedLock(roomId: string, locks: { ref: string; name: string }[]): string | null {
  const escaped = roomId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const word = new RegExp(`(^|[^0-9A-Za-z])${escaped}($|[^0-9A-Za-z])`);
  const matches = locks.filter((l) => word.test(l.name));
  return matches.length === 1 ? (matches[0]?.ref ?? null) : null;
}

export function buildSwitchPlan(input: {
  propertyId: string;
  from: string;
  to: string;
  kinds: ('pin' | 'mobile_key' | 'card')[];
  pilotRoom: string | null;
  rooms: PlanRoomInput[];
  newLocks: { ref: string; name: string }[];
  /** The first cutover day (YYYY-MM-DD) and how many rooms a day. */
  startDate: string;
  roomsPerDay: number;
}): SwitchPlan {
  const start = Date.parse(`${input.startDate}T00:00:00Z`);
  const ordered = [...input.rooms].sort((a, b) =>
    // The pilot room first, then by room id.
    a.roomId === input.pilotRoom ? -1 : b.roomId === input.pilotRoom ? 1 : a.roomId.localeCompare(b.roomId),
  );
  const taken = new Set<string>();
  const warnings: string[] = [];
  const rooms = ordered.map((r, i) => {
    const day = start + Math.floor(i / Math.max(1, input.roomsPerDay)) * DAY;
    const cutoverDate = new Date(day).toISOString().slice(0, 10);
    const proposed = proposedLock(
      r.roomId,
      input.newLocks.filter((l) => !taken.has(l.ref)),
    );
    if (proposed) taken.add(proposed);
    else warnings.push(`room ${r.roomId}: no ${input.to} lock proposed; set its vendorDeviceRef`);
    const guests = r.credentials.filter((c) => c.holder === 'guest');
    const occupied = guests.some(
      (c) => Date.parse(c.validFrom) < day + DAY && Date.parse(c.validUntil) > day,
    );
    if (occupied)
      warnings.push(
        `room ${r.roomId}: occupied on ${cutoverDate}; its guest's credential moves to the new lock` +
          ' (a new PIN where the new vendor chooses PINs)',
      );
    const staffKeys = r.credentials.filter((c) => c.holder === 'staff').length;
    return {
      roomId: r.roomId,
      oldDeviceId: r.oldDeviceId,
      vendorDeviceRef: proposed,
      cutoverDate,
      liveCredentials: r.credentials.length,
      staffKeys,
      occupiedOnCutover: occupied,
    };
  });
  return {
    version: 1,
    propertyId: input.propertyId,
    from: input.from,
    to: input.to,
    kinds: input.kinds,
    pilotRoom: input.pilotRoom,
    rooms,
    warnings,
  };
}
