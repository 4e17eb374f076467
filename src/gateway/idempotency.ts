/**
 * Idempotency-Key: the same key and body give the same response; the same key with another body gives
 * 422; a request still in progress under the key gives 409. Responses are stored with secrets sealed.
 *
 * - A claim lapses (`claimMs`): if the process handling it died, the same request may take it over, rather
 *   than find the key in progress forever.
 * - What a request prepares before it sends anything (the PINs of an issue) is stored with its claim, sealed:
 *   a retry — after a crash, or after an error that came once the message was already sent — sends and
 *   answers the same PINs, so the answer always names what the locks hold.
 * - An error worth retrying releases the claim (the key and its prepared PINs stay); a final one is the
 *   key's answer.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { sql } from 'kysely';
import { claimIdempotencyKey, storeIdempotentAnswer } from '../io/db/batchedCalls.ts';
import { LockError } from '../errors.ts';
import type { Db } from '../io/db/index.ts';

export interface StoredResponse {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export function requestHash(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('hex');
}

export interface IdempotencyOptions<P> {
  /** Seals and opens the secrets of stored answers. */
  seal: { seal(r: StoredResponse): StoredResponse; open(r: StoredResponse): StoredResponse };
  /**
   * A stored answer that may be outdated (a 202: still in progress) is offered here on a replay; a newer
   * answer returned is stored in its place and given instead.
   */
  refresh?: (stored: StoredResponse) => Promise<StoredResponse | null>;
  /** What this request prepares before sending (stored sealed with the claim; a retry gets the first's). */
  prepare?: { make(): P; seal(p: P): Record<string, unknown>; open(stored: Record<string, unknown>): P };
  /** How long a claim holds before another request with the key may take it over (default 10 s). */
  claimMs?: number;
}

export async function withIdempotency<P = undefined>(
  db: Db,
  tenantId: string,
  scope: string,
  key: string | undefined,
  body: unknown,
  /** `retry`: an earlier attempt under the key got as far as preparing (and maybe sending). */
  handler: (prepared: P | undefined, retry: boolean) => Promise<StoredResponse>,
  o: IdempotencyOptions<P>,
): Promise<StoredResponse> {
  if (!key) return handler(o.prepare?.make(), false);
  if (key.length > 200)
    throw new LockError('LOCK.VALIDATION', 'Idempotency-Key is longer than 200 characters');
  const hash = requestHash(body);
  const mine = o.prepare?.make();
  // Claim, take over a lapsed claim, or what the key already holds: one statement, shared with the requests
  // in flight (migration 0023).
  const row = await claimIdempotencyKey(db, {
    tenant: tenantId,
    scope,
    key,
    hash,
    prepared: mine !== undefined && o.prepare ? o.prepare.seal(mine) : null,
    claimMs: o.claimMs ?? 10_000,
  });
  if (!row) throw new LockError('LOCK.CONFLICT', 'the Idempotency-Key changed concurrently');
  if (!row.claimed) {
    if (row.request_hash !== hash) throw new LockError('LOCK.IDEMPOTENCY_KEY_REUSED');
    if (row.status_code === null || !row.response) throw new LockError('LOCK.IDEMPOTENCY_IN_PROGRESS');
    const stored = o.seal.open(row.response as unknown as StoredResponse);
    const newer = o.refresh ? await o.refresh(stored) : null;
    if (!newer) return stored;
    await store(newer);
    return newer;
  }
  const retry = row.taken_over;
  // A claim taken over brings the first attempt's prepared secrets; a fresh one has its own, in hand.
  const prepared = retry && row.prepared && o.prepare ? o.prepare.open(row.prepared) : mine;
  let response: StoredResponse;
  try {
    response = await handler(prepared, retry);
  } catch (e) {
    // Errors that say "try again" give the claim up (the prepared secrets stay); final ones are the answer.
    if (e instanceof LockError && !e.retryable) {
      response = { status: e.status, body: { code: e.code, detail: e.detail ?? null, problem: true } };
    } else {
      await sql`select lock_idempotency_release(${tenantId}, ${scope}, ${key})`.execute(db).catch(() => {});
      throw e;
    }
  }
  await store(response);
  return response;

  async function store(r: StoredResponse): Promise<void> {
    await storeIdempotentAnswer(db, {
      tenant: tenantId,
      scope,
      key: key as string,
      status: r.status,
      response: o.seal.seal(r),
    });
  }
}

/** Answers with a stored response: a stored problem as the same problem+json, anything else as it was. */
export function sendStored(reply: FastifyReply, r: StoredResponse) {
  if (r.body.problem)
    throw new LockError(r.body.code as never, (r.body.detail as string | null) ?? undefined);
  return reply
    .code(r.status)
    .headers(r.headers ?? {})
    .send(r.body as never);
}
