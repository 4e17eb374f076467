/**
 * What a desk checks before it issues a card on its own (the service out of reach): it holds a certificate
 * that is valid now and not on the revocation list it last pulled, the request is within the certificate's
 * scope (kinds, rooms, longest validity), it knows how the property's cards are encoded, and the rooms are not
 * let to another stay as far as its mirror knows. Then the provisional record is signed with the device key —
 * before any card is written, so what is written is always on record. The service checks it all again.
 */
import { randomUUID } from 'node:crypto';
import type { DeviceKey } from '../desktop/envelope.ts';
import { type ProvisionalIssuance, signProvisional } from '../desktop/provisional.ts';
import { type WiegandFormatName, wiegandFormats } from '../io/encoders/wiegand.ts';
import type { HeldCertificate } from './certificateClient.ts';
import type { LocalMirror } from './mirror.ts';

export interface OfflineIssueRequest {
  rooms: string[];
  validFrom: string;
  validUntil: string;
  reservationId?: string | null;
  /** The guest, as the platform refers to them (an id, never a name). */
  holderRef: string;
  cardNumber: string;
  encoderId?: string;
}

export type OfflineIssueProblem =
  | 'INVALID'
  | 'NO_CERTIFICATE'
  | 'CERTIFICATE_EXPIRED'
  | 'REVOKED'
  | 'OUT_OF_SCOPE'
  | 'NO_CARD_FORMAT'
  | 'ROOM_TAKEN'
  | 'ENCODE_FAILED';

export class OfflineIssueError extends Error {
  constructor(
    readonly problem: OfflineIssueProblem,
    message: string,
  ) {
    super(message);
    this.name = 'OfflineIssueError';
  }
}

export interface PreparedOffline {
  record: ProvisionalIssuance;
  data: { format: WiegandFormatName; bits: string };
}

export function prepareOffline(o: {
  req: OfflineIssueRequest;
  held: HeldCertificate | null;
  mirror: LocalMirror;
  key: DeviceKey;
  agentId: string;
  propertyId: string;
  now: Date;
}): PreparedOffline {
  const { req, held, now } = o;
  const fail = (p: OfflineIssueProblem, m: string): never => {
    throw new OfflineIssueError(p, m);
  };
  const from = Date.parse(req.validFrom);
  const until = Date.parse(req.validUntil);
  if (!Number.isFinite(from) || !Number.isFinite(until) || until <= from)
    fail('INVALID', 'validUntil must be a time after validFrom');
  if (!Array.isArray(req.rooms) || req.rooms.length === 0 || req.rooms.length > 4)
    fail('INVALID', 'one to four rooms');
  if (!/^\d{1,12}$/.test(req.cardNumber)) fail('INVALID', 'the card number is 1–12 digits');
  if (!req.holderRef || req.holderRef.length > 128) fail('INVALID', 'holderRef: the guest’s id');
  if (!held)
    return fail('NO_CERTIFICATE', 'this desk holds no offline-issuance certificate: connect it once');
  const cert = held.certificate;
  if (now.getTime() < Date.parse(cert.notBefore) || now.getTime() >= Date.parse(cert.notAfter))
    fail('CERTIFICATE_EXPIRED', `the certificate ended ${cert.notAfter}: connect the desk to renew it`);
  if (o.mirror.certificateRevoked(cert.serial)) fail('REVOKED', 'this desk’s certificate is revoked');
  if (!cert.kinds.includes('card')) fail('OUT_OF_SCOPE', 'the certificate allows no cards');
  const outside = cert.rooms === '*' ? [] : req.rooms.filter((r) => !(cert.rooms as string[]).includes(r));
  if (outside.length) fail('OUT_OF_SCOPE', `room(s) ${outside.join(', ')} are not allowed`);
  const maxMs = cert.maxValidityHours * 3_600_000;
  if (until - from > maxMs || until - now.getTime() > maxMs)
    fail('OUT_OF_SCOPE', `at most ${cert.maxValidityHours} h offline`);
  const cf = held.cardFormat;
  const format = cf && cf.format in wiegandFormats ? wiegandFormats[cf.format as WiegandFormatName] : null;
  if (!cf || !format) return fail('NO_CARD_FORMAT', 'the property’s card format is not known here');
  const cardNumber = Number(req.cardNumber);
  if (cardNumber > format.maxCardNumber) fail('INVALID', `the card number must be 0–${format.maxCardNumber}`);
  const taken = o.mirror.roomsTaken({
    rooms: req.rooms,
    validFrom: req.validFrom,
    validUntil: req.validUntil,
    reservationId: req.reservationId ?? null,
    holderRef: req.holderRef,
  });
  if (taken.length) fail('ROOM_TAKEN', `room(s) ${taken.join(', ')} are let to another stay`);
  let bits: string;
  try {
    bits = format.encode({ facilityCode: cf.facilityCode, cardNumber });
  } catch (e) {
    return fail('INVALID', e instanceof Error ? e.message : String(e));
  }
  const record = signProvisional(o.key, {
    v: 1,
    id: randomUUID(),
    agentId: o.agentId,
    propertyId: o.propertyId,
    certificateSerial: cert.serial,
    kind: 'card',
    rooms: req.rooms,
    validFrom: new Date(from).toISOString(),
    validUntil: new Date(until).toISOString(),
    issuedAt: now.toISOString(),
    reservationId: req.reservationId ?? null,
    holderRef: req.holderRef,
    cardNumber: String(cardNumber),
  });
  return { record, data: { format: cf.format as WiegandFormatName, bits } };
}
