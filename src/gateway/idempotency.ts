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
 * - The answer is stored after it is sent, not before: a request waits for one database round trip less.
 *   An answer whose store is lost (the process died in between) is no loss: the claim lapses and the same
 *   request re-runs its handler with the same prepared secrets, and every handler answers a re-run from what
 *   its first run did (the same credential and PINs, the device or property made under the key, a revoke
 *   already closed). A replay reaching this process while the store is in flight waits for it (a claim's
 *   time at most), so it finds the answer.
 */
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { sql } from 'kysely';
import {
  type ClaimedKey,
  claimIdempotencyKey,
  type IdempotencyClaim,
  storeIdempotentAnswer,
} from '../io/db/batchedCalls.ts';
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
  /** Told when an answer, already sent, could not be stored (the claim lapses; a retry re-runs). */
  onStoreFailed?: (e: unknown) => void;
  /** Done by the claim's own statement: an issue's context read, its message journaled (`claimIdempotencyKey`). */
  alongside?: Pick<IdempotencyClaim, 'context' | 'journal'>;
}

/** Logs an answer that was sent but not stored: what failed, never the answer (it may hold a PIN). */
export const logStoreFailure =
  (log: Pick<FastifyBaseLogger, 'warn'>) =>
  (e: unknown): void => {
    const code = (e as { code?: unknown } | null)?.code;
    log.warn(
      {
        code: typeof code === 'string' ? code : undefined,
        reason: e instanceof Error ? e.message : String(e),
      },
      'an answer already sent was not stored under its Idempotency-Key; a retry once the claim lapses re-runs it',
    );
  };

/** Answers sent and still being stored through one database: by key (a replay here waits for its answer), and all. */
interface Storing {
  byKey: Map<string, Promise<void>>;
  all: Set<Promise<void>>;
}
const storing = new WeakMap<Db, Storing>();

function storingOn(db: Db): Storing {
  let s = storing.get(db);
  if (!s) storing.set(db, (s = { byKey: new Map(), all: new Set() }));
  return s;
}

/** `p`, or nothing more after `ms`: a store that hangs (a lost connection) holds nobody up for ever. */
function within(p: Promise<unknown> | undefined, ms: number): Promise<unknown> {
  if (!p) return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Waits until every answer sent through `db` is stored (or has failed to be), at most `ms`: before the pool
 * closes. Stores that start meanwhile (a handler still finishing) are waited for too.
 */
export async function answersStored(db: Db, ms = 5_000): Promise<void> {
  const s = storing.get(db);
  const until = Date.now() + ms;
  while (s && s.all.size > 0 && Date.now() < until) await within(Promise.all([...s.all]), until - Date.now());
}

export async function withIdempotency<P = undefined>(
  db: Db,
  tenantId: string,
  scope: string,
  key: string | undefined,
  body: unknown,
  /**
   * `retry`: an earlier attempt under the key got as far as preparing (and maybe sending); `claim`: what the
   * claim's statement did besides (`alongside`), absent without a key.
   */
  handler: (prepared: P | undefined, retry: boolean, claim?: ClaimedKey) => Promise<StoredResponse>,
  o: IdempotencyOptions<P>,
): Promise<StoredResponse> {
  if (!key) return handler(o.prepare?.make(), false);
  if (key.length > 200)
    throw new LockError('LOCK.VALIDATION', 'Idempotency-Key is longer than 200 characters');
  const storeKey = `${tenantId}\u0000${scope}\u0000${key}`;
  const inFlight = storingOn(db);
  // A replay of an answer sent a moment ago finds it stored; a store that hangs is waited for a claim's time.
  await within(inFlight.byKey.get(storeKey), o.claimMs ?? 10_000);
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
    ...o.alongside,
  });
  if (!row) throw new LockError('LOCK.CONFLICT', 'the Idempotency-Key changed concurrently');
  if (!row.claimed) {
    if (row.request_hash !== hash) throw new LockError('LOCK.IDEMPOTENCY_KEY_REUSED');
    if (row.status_code === null || !row.response) throw new LockError('LOCK.IDEMPOTENCY_IN_PROGRESS');
    const stored = o.seal.open(row.response as unknown as StoredResponse);
    const newer = o.refresh ? await o.refresh(stored) : null;
    if (!newer) return stored;
    storeAfter(newer);
    return newer;
  }
  const retry = row.taken_over;
  // A claim taken over brings the first attempt's prepared secrets; a fresh one has its own, in hand.
  const prepared = retry && row.prepared && o.prepare ? o.prepare.open(row.prepared) : mine;
  let response: StoredResponse;
  try {
    response = await handler(prepared, retry, row);
  } catch (e) {
    // Errors that say "try again" give the claim up (the prepared secrets stay); final ones are the answer.
    if (e instanceof LockError && !e.retryable) {
      response = { status: e.status, body: { code: e.code, detail: e.detail ?? null, problem: true } };
    } else {
      await sql`select lock_idempotency_release(${tenantId}, ${scope}, ${key})`.execute(db).catch(() => {});
      throw e;
    }
  }
  storeAfter(response);
  return response;

  /** Stores the answer while the caller sends it (see the module's comment for why that is safe). */
  function storeAfter(r: StoredResponse): void {
    const done = Promise.resolve()
      .then(() =>
        storeIdempotentAnswer(db, {
          tenant: tenantId,
          scope,
          key: key as string,
          status: r.status,
          response: o.seal.seal(r),
        }),
      )
      .catch((e: unknown) => {
        try {
          o.onStoreFailed?.(e);
        } catch {
          // Telling about a failed store must not fail anything else (the answer went out already).
        }
      })
      .finally(() => {
        if (inFlight.byKey.get(storeKey) === done) inFlight.byKey.delete(storeKey);
        inFlight.all.delete(done);
      });
    inFlight.byKey.set(storeKey, done);
    inFlight.all.add(done);
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
