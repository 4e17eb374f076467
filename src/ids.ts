import { createHash, randomUUID } from 'node:crypto';

/** Branded ids: a CredentialId cannot be passed where a LockDeviceId is expected. */
export type TenantId = string & { readonly __brand: 'TenantId' };
export type PropertyId = string & { readonly __brand: 'PropertyId' };
export type CredentialId = string & { readonly __brand: 'CredentialId' };
export type LockDeviceId = string & { readonly __brand: 'LockDeviceId' };

/** Namespace for every name-derived id of this service (RFC 4122 v5). */
const NAMESPACE = Buffer.from('6f1c2b7e9a4d4f0e8b3c5d6e7f801234', 'hex');

/** Deterministic UUIDv5 of a name: the same name always gives the same id. Pure. */
export function uuidV5(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A reservation's credential of one kind has exactly one id, so redelivered events cannot duplicate it. */
export function reservationCredentialId(tenantId: string, reservationId: string, kind: string): CredentialId {
  return uuidV5(`credential:${tenantId}:reservation:${reservationId}:${kind}`) as CredentialId;
}

/** A reservation's actor: one per (tenant, reservation), a subject token whatever the platform's ids look like. */
export function reservationActorId(tenantId: string, reservationId: string): string {
  return uuidV5(`reservation:${tenantId}:${reservationId}`);
}

/** A member of staff's actor: one per (tenant, platform user id), whatever the platform's ids look like. */
export function staffActorId(tenantId: string, staffId: string): string {
  return uuidV5(`staff:${tenantId}:${staffId}`);
}

/** A shift's master key of one kind has exactly one id, so redelivered events cannot duplicate it. */
export function shiftCredentialId(tenantId: string, shiftId: string, kind: string): CredentialId {
  return uuidV5(`credential:${tenantId}:shift:${shiftId}:${kind}`) as CredentialId;
}

/** A REST-created credential's id follows from its Idempotency-Key (a fresh claim journals its issue only if no actor has it). */
export function idempotentCredentialId(tenantId: string, idempotencyKey: string): CredentialId {
  return uuidV5(`credential:${tenantId}:idempotency:${idempotencyKey}`) as CredentialId;
}

/** Source of fresh ids; a seam so tests can make them predictable. */
export interface IdSource {
  next(): string;
}
export const randomIds: IdSource = { next: () => randomUUID() };

/** Source of time; a seam so tests can control it. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
