/**
 * Idempotency-Key: the same key and body give the same response; the same key with another body gives
 * 422; a request still in progress under the key gives 409. Responses are stored with secrets sealed.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { LockError } from '../errors.ts';
import { sql } from 'kysely';
import { type Db, withTenant } from '../io/db/index.ts';

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

export async function withIdempotency(
  db: Db,
  tenantId: string,
  scope: string,
  key: string | undefined,
  body: unknown,
  handler: () => Promise<StoredResponse>,
  seal: { seal(r: StoredResponse): StoredResponse; open(r: StoredResponse): StoredResponse },
  /**
   * A stored answer that may be outdated (a 202: still in progress) is offered here on a replay; a newer
   * answer returned is stored in its place and given instead.
   */
  refresh?: (stored: StoredResponse) => Promise<StoredResponse | null>,
): Promise<StoredResponse> {
  if (!key) return handler();
  if (key.length > 200)
    throw new LockError('LOCK.VALIDATION', 'Idempotency-Key is longer than 200 characters');
  const hash = requestHash(body);
  // One round trip each (migration 0002): claim, or what the key already holds.
  const { rows } = await sql<{
    claimed: boolean;
    request_hash: string;
    status_code: number | null;
    response: StoredResponse | null;
  }>`select * from lock_idempotency_claim(${tenantId}, ${scope}, ${key}, ${hash})`.execute(db);
  const row = rows[0];
  if (!row) throw new LockError('LOCK.CONFLICT', 'the Idempotency-Key changed concurrently');
  if (!row.claimed) {
    if (row.request_hash !== hash) throw new LockError('LOCK.IDEMPOTENCY_KEY_REUSED');
    if (row.status_code === null || !row.response) throw new LockError('LOCK.IDEMPOTENCY_IN_PROGRESS');
    const stored = seal.open(row.response);
    const newer = refresh ? await refresh(stored) : null;
    if (!newer) return stored;
    await store(newer);
    return newer;
  }
  let response: StoredResponse;
  try {
    response = await handler();
  } catch (e) {
    // Errors that say "try again" free the key; final ones are kept as the key's answer.
    if (e instanceof LockError && !e.retryable) {
      response = { status: e.status, body: { code: e.code, detail: e.detail ?? null, problem: true } };
    } else {
      await withTenant(db, tenantId, (tx) =>
        tx.deleteFrom('idempotency_keys').where('scope', '=', scope).where('key', '=', key).execute(),
      );
      throw e;
    }
  }
  await store(response);
  return response;

  async function store(r: StoredResponse): Promise<void> {
    await sql`select lock_idempotency_store(${tenantId}, ${scope}, ${key}, ${r.status}::int, ${JSON.stringify(seal.seal(r))}::jsonb)`.execute(
      db,
    );
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
