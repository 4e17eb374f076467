/**
 * The REST path's per-request calls, batched across the requests in flight (migration 0023): each call
 * waits for the batch in flight to finish and goes in the next one, so under load many requests share one
 * statement, and a lone request is one statement as before. Each item is applied by the database as the
 * single-request function does, and fails alone: its error is rethrown to its own caller only.
 *
 * Claims and answers to store share one pipeline: a round sends the answers gathered meanwhile with the
 * claims, in one statement, where each had a statement of its own (at 8 clients, 0.46 statements a request
 * each). On this machine a statement's write wakes PostgreSQL's backend, which takes the core from the event
 * loop: the statement's round trip, more than its work, is what it costs.
 */
import { sql } from 'kysely';
import type { Db } from './index.ts';
import { jsonbRefusal, jsonbRefuses } from './jsonbText.ts';
import { MicroBatcher } from './microBatcher.ts';

export interface IdempotencyClaim {
  tenant: string;
  scope: string;
  key: string;
  hash: string;
  prepared: Record<string, unknown> | null;
  claimMs: number;
  /** Read what issuing needs with the claim (a fresh or taken-over one): the property and the rooms' locks. */
  context?: { property: string; rooms: string[] };
  /**
   * A message to journal with a fresh claim, planned from the context whose digest is `ctxHash`: journaled only
   * if the context read now has that digest (migration 0030).
   */
  journal?: Omit<JournaledMessage, 'tenant'> & { ctxHash: string };
}

export interface ClaimedKey {
  claimed: boolean;
  taken_over: boolean;
  request_hash: string;
  status_code: number | null;
  response: Record<string, unknown> | null;
  prepared: Record<string, unknown> | null;
  /** The claim's message was journaled with it. */
  journaled: boolean;
  /** A taken-over claim: the journal entry its first attempt made (`prepared.journal`) is still to be applied. */
  journal_pending: boolean;
  /** The context read with the claim (`context` asked, and not journaled), and its digest. */
  ctx: Record<string, unknown> | null;
  ctx_hash: string | null;
}

export interface StoredAnswer {
  tenant: string;
  scope: string;
  key: string;
  status: number;
  response: unknown;
}

export interface JournaledMessage {
  tenant: string;
  id: string;
  type: string;
  actor: string;
  intent: unknown;
  claimMs: number;
  trace?: string;
}

const keyOf = (c: IdempotencyClaim) => `${c.tenant}\u0000${c.scope}\u0000${c.key}`;

/** Per statement: batches of up to 128 items, one in flight (what arrives meanwhile gathers for the next). */
const MAX_BATCH = 128;
const IN_FLIGHT = 1;

/** Each item's result, or its own error (as a value: the batcher rejects whole batches only). */
type Batched<I, R> = MicroBatcher<I, R | Error>;

/** A claim or an answer to store: they go in the same rounds. */
type KeyCall = { claim: IdempotencyClaim } | { store: StoredAnswer };

interface Batchers {
  keys: Batched<KeyCall, ClaimedKey | null | undefined>;
  journal: Batched<JournaledMessage, undefined>;
  credentials: Batched<{ tenant: string; id: string }, Record<string, unknown> | null>;
}

const byDb = new WeakMap<Db, Batchers>();

/** A database error of one item, raised again in its caller: its SQLSTATE kept as `code`. */
function itemError(text: string): Error {
  const code = text.slice(0, 5);
  return Object.assign(new Error(text.slice(6)), { code });
}

/** One result per item, in order; an item whose row reports an error is rejected alone. */
function answers<R>(rows: { i: number; error?: string | null }[], n: number, value: (row: never) => R) {
  const out: (R | Error)[] = new Array<R | Error>(n);
  for (const r of rows) out[r.i] = r.error ? itemError(r.error) : value(r as never);
  return out;
}

/** An item and its JSON, serialized once: checked, then sent as part of the batch's array. */
interface Serialized<I> {
  item: I;
  json: string;
}

const jsonArray = (xs: readonly Serialized<unknown>[]) => `[${xs.map((x) => x.json).join(',')}]`;

/**
 * An item whose JSON jsonb cannot take (a NUL, an unpaired surrogate) gets its own error here: sent, it would
 * fail the statement, and with it every other tenant's request in the batch.
 */
async function sparing<I, R>(
  items: I[],
  run: (kept: Serialized<I>[]) => Promise<(R | Error)[]>,
  toJson: (item: I) => string,
): Promise<(R | Error)[]> {
  const all = items.map((item) => ({ item, json: toJson(item) }));
  const refused = all.map((x) => jsonbRefuses(x.json));
  if (!refused.includes(true)) return run(all);
  const kept = all.filter((_, i) => !refused[i]);
  const results = kept.length > 0 ? await run(kept) : [];
  let k = 0;
  return items.map((_, i) => (refused[i] ? jsonbRefusal() : (results[k++] as R | Error)));
}

type RoundRow = ClaimedKey & { stored: boolean; i: number; claimed: boolean | null; error: string | null };

/**
 * One statement for a round, the claims first (`UNION ALL` runs its branches in order; either list may be
 * empty). Each function answers its items by index; `stored` says whose index it is.
 */
function roundOf(db: Db, claims: Serialized<unknown>[], stores: Serialized<unknown>[]) {
  return sql<RoundRow>`
    select false as stored, * from lock_issue_claims(${jsonArray(claims)}::jsonb)
    union all
    select true, s.i, null, null, null, null, null, null, null, null, null, null, s.error
      from lock_idempotency_stores(${jsonArray(stores)}::jsonb) s`.execute(db);
}

function batchersOf(db: Db): Batchers {
  let b = byDb.get(db);
  if (b) return b;
  const settle = <I, R>(
    run: (items: Serialized<I>[]) => Promise<(R | Error)[]>,
    toJson: (item: I) => string = JSON.stringify,
  ): Batched<I, R> =>
    new MicroBatcher<I, R | Error>((items) => sparing(items, run, toJson), MAX_BATCH, IN_FLIGHT);
  b = {
    keys: settle<KeyCall, ClaimedKey | null | undefined>(
      async (items) => {
        const claims: (Serialized<IdempotencyClaim> & { i: number })[] = [];
        const stores: (Serialized<StoredAnswer> & { i: number })[] = [];
        items.forEach(({ item, json }, i) => {
          if ('claim' in item) claims.push({ item: item.claim, json, i });
          else stores.push({ item: item.store, json, i });
        });
        // Claimed in key order: two processes' rounds lock their claims' keys in the same order, never in a cycle.
        // The stores come after the claims and never wait for a lock (migration 0035), so no round waits for
        // another while holding what that one waits for.
        claims.sort((a, b) => keyOf(a.item).localeCompare(keyOf(b.item)));
        const { rows } = await roundOf(db, claims, stores);
        // Each function answers its own items by index, as a round of one kind would be answered.
        const claimed = answers(
          rows.filter((r) => !r.stored),
          claims.length,
          (r: RoundRow) => (r.claimed === null ? null : r),
        );
        const stored = answers(
          rows.filter((r) => r.stored),
          stores.length,
          () => undefined,
        );
        const out = new Array<ClaimedKey | null | undefined | Error>(items.length);
        claims.forEach((c, k) => (out[c.i] = claimed[k]));
        stores.forEach((s, k) => (out[s.i] = stored[k]));
        return out;
      },
      // Each call is sent as its function reads it: the claim or the answer, not the wrapper.
      (call) => JSON.stringify('claim' in call ? call.claim : call.store),
    ),
    journal: settle<JournaledMessage, undefined>(async (items) => {
      const { rows } = await sql<{ i: number; error: string | null }>`
        select * from lock_journal_messages(${jsonArray(items)}::jsonb)`.execute(db);
      return answers(rows, items.length, () => undefined);
    }),
    credentials: settle<{ tenant: string; id: string }, Record<string, unknown> | null>(async (items) => {
      const { rows } = await sql<{ i: number; credential: Record<string, unknown> | null }>`
        select * from lock_read_credentials(${jsonArray(items)}::jsonb)`.execute(db);
      return answers(rows, items.length, (r: { credential: Record<string, unknown> | null }) => r.credential);
    }),
  };
  byDb.set(db, b);
  return b;
}

async function unwrap<R>(p: Promise<R | Error>): Promise<R> {
  const r = await p;
  if (r instanceof Error) throw r;
  return r;
}

/**
 * Claims an Idempotency-Key, takes over a lapsed claim, or reads what it holds (null: changed meanwhile); with a
 * fresh or taken-over claim, reads an issue's context and journals its message when asked (migration 0030).
 */
export const claimIdempotencyKey = (db: Db, c: IdempotencyClaim) =>
  unwrap(batchersOf(db).keys.submit({ claim: c })) as Promise<ClaimedKey | null>;

/** Stores a request's answer under its Idempotency-Key. */
export const storeIdempotentAnswer = async (db: Db, a: StoredAnswer): Promise<void> => {
  await unwrap(batchersOf(db).keys.submit({ store: a }));
};

/** Journals a command for an actor before it is sent (an effect intent its commit releases). */
export const journalMessage = (db: Db, m: JournaledMessage) => unwrap(batchersOf(db).journal.submit(m));

/** A credential's read-model row under its tenant (dates as ISO text), or null. */
export const readCredentialRow = (db: Db, tenant: string, id: string) =>
  unwrap(batchersOf(db).credentials.submit({ tenant, id }));
