/**
 * A provisional credential: what a desk agent issues while the service is out of reach. The agent signs it
 * with its device key before the card is written, under the offline-issuance certificate it holds, and
 * pushes it (with the certificate and the card's UID) once the service is back; reconciliation checks the
 * chain — certificate by the service key, record by the device key the certificate names — and turns it
 * into a credential with the same id, or says why not. Shared by the agent and the service, with the shapes
 * `/sync/v1/pull` answers in.
 */
import { createHash, sign, verify } from 'node:crypto';
import { Compile } from 'typebox/compile';
import Type, { type Static } from 'typebox';
import { canonical, type DeviceKey, publicKeyFromRaw } from './envelope.ts';

export const ProvisionalIssuance = Type.Object(
  {
    v: Type.Literal(1),
    /** The credential's id, chosen by the agent (a UUID): the credential keeps it. */
    id: Type.String({ format: 'uuid' }),
    agentId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    propertyId: Type.String({ minLength: 1, maxLength: 128 }),
    certificateSerial: Type.String({ minLength: 1, maxLength: 64 }),
    kind: Type.Literal('card'),
    rooms: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 4 }),
    validFrom: Type.String({ format: 'date-time' }),
    validUntil: Type.String({ format: 'date-time' }),
    /** When the desk issued it, by its clock. */
    issuedAt: Type.String({ format: 'date-time' }),
    reservationId: Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()]),
    /** The guest, as the platform refers to them (an id, never a name). */
    holderRef: Type.String({ minLength: 1, maxLength: 128 }),
    /** The card's number (sealed once it reaches the service; never logged). */
    cardNumber: Type.String({ pattern: '^\\d{1,12}$' }),
    sig: Type.String({ maxLength: 200 }),
  },
  { additionalProperties: false },
);
export type ProvisionalIssuance = Static<typeof ProvisionalIssuance>;
export const checkProvisionalIssuance = Compile(ProvisionalIssuance);

/** At most this many provisional credentials per push (the agent sends its queue in pages). */
export const MAX_PUSH_ITEMS = 50;

/** One item of a push: the signed record, the certificate it was issued under, and the card the desk wrote. */
export const PushItem = Type.Object(
  {
    issuance: ProvisionalIssuance,
    certificate: Type.Record(Type.String(), Type.Unknown()),
    /** The written card's UID; null when the encoder could not say whether it wrote. */
    uid: Type.Union([Type.String({ pattern: '^[A-Za-z0-9:_-]{1,64}$' }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type PushItem = Static<typeof PushItem>;
export const checkPushItem = Compile(PushItem);

/** Why a provisional credential was not taken (the desk shows it; `docs/desktop-agent.md` explains each). */
export type ProvisionalRejection =
  | 'MALFORMED'
  | 'AGENT_MISMATCH'
  | 'CERTIFICATE_MALFORMED'
  | 'CERTIFICATE_BAD_SIGNATURE'
  | 'CERTIFICATE_NOT_YET_VALID'
  | 'CERTIFICATE_EXPIRED'
  | 'CERTIFICATE_NOT_THIS_AGENT'
  | 'CERTIFICATE_UNKNOWN'
  | 'CERTIFICATE_REVOKED'
  | 'DEVICE_MISMATCH'
  | 'BAD_SIGNATURE'
  | 'AGENT_REVOKED'
  | 'ISSUED_IN_FUTURE'
  | 'OUT_OF_SCOPE'
  | 'REPLAY_CONFLICT'
  | 'ID_IN_USE'
  | 'NOT_A_DESK_ROOM'
  | 'RESERVATION_CANCELLED'
  | 'RESERVATION_MISMATCH'
  | 'ROOM_RELET';

export interface PushResult {
  id: string | null;
  outcome: 'accepted' | 'accepted_with_changes' | 'rejected';
  reason?: string;
  changes?: { field: string; from: unknown; to: unknown; reason: string }[];
  /** The credential's status now (accepted ones). */
  status?: string;
  /** Not final: push it again later (accepted, but its credential could not be started yet). */
  retry?: boolean;
}

export function signProvisional(
  key: DeviceKey,
  unsigned: Omit<ProvisionalIssuance, 'sig'>,
): ProvisionalIssuance {
  const sig = sign(null, Buffer.from(canonical(unsigned)), key.privateKey).toString('base64');
  return { ...unsigned, sig };
}

/** Whether the record is signed by the device key `agentKey` (raw base64). */
export function provisionalSignedBy(p: ProvisionalIssuance, agentKey: string): boolean {
  const { sig, ...unsigned } = p;
  try {
    return verify(
      null,
      Buffer.from(canonical(unsigned)),
      publicKeyFromRaw(agentKey),
      Buffer.from(sig, 'base64'),
    );
  } catch {
    return false;
  }
}

/** A digest of the signed record: a push sent again matches it; a different record under the same id does not. */
export const provisionalDigest = (p: ProvisionalIssuance) =>
  createHash('sha256').update(canonical(p)).digest('base64url');

/** A credential as `/sync/v1/pull` gives it and a desk's mirror keeps it: no secret. */
export interface MirroredCredential {
  id: string;
  status: string;
  kind: string;
  rooms: string[];
  reservationId: string | null;
  holderRef: string;
  validFrom: string;
  validUntil: string;
  updatedAt: string;
  /** Where the change is in commit order (the pull's cursor; the service sets it). */
  change?: string;
}

/** An entry of the certificate revocation list, as `/sync/v1/pull` gives it. */
export interface CrlEntry {
  serial: string;
  agentId: string;
  reason: string;
  at: string;
}
