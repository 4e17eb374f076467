/**
 * The REST path's per-request calls, batched across the requests in flight (migration 0023): each call
 * waits for the batch in flight to finish and goes in the next one, so under load many requests share one
 * statement, and a lone request is one statement as before. Each item is applied by the database as the
 * single-request function does, and fails alone: its error is rethrown to its own caller only.
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

/** Per statement: batches of up to 128 items, two in flight (one writing while the next gathers). */
const MAX_BATCH = 128;
const IN_FLIGHT = 1;

/** Each item's result, or its own error (as a value: the batcher rejects whole batches only). */
type Batched<I, R> = MicroBatcher<I, R | Error>;

interface Batchers {
  claims: Batched<IdempotencyClaim, ClaimedKey | null>;
  stores: Batched<StoredAnswer, undefined>;
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
): Promise<(R | Error)[]> {
  const all = items.map((item) => ({ item, json: JSON.stringify(item) }));
  const refused = all.map((x) => jsonbRefuses(x.json));
  if (!refused.includes(true)) return run(all);
  const kept = all.filter((_, i) => !refused[i]);
  const results = kept.length > 0 ? await run(kept) : [];
  let k = 0;
  return items.map((_, i) => (refused[i] ? jsonbRefusal() : (results[k++] as R | Error)));
}

function batchersOf(db: Db): Batchers {
  let b = byDb.get(db);
  if (b) return b;
  const settle = <I, R>(run: (items: Serialized<I>[]) => Promise<(R | Error)[]>): Batched<I, R> =>
    new MicroBatcher<I, R | Error>((items) => sparing(items, run), MAX_BATCH, IN_FLIGHT);
  b = {
    claims: settle<IdempotencyClaim, ClaimedKey | null>(async (items) => {
      // Claimed in key order: two processes' batches lock their keys in the same order, never in a cycle.
      const order = items
        .map((x, i) => ({ ...x, i }))
        .sort((a, b) => keyOf(a.item).localeCompare(keyOf(b.item)));
      const { rows } = await sql<ClaimedKey & { i: number; error: string | null }>`
        select * from lock_issue_claims(${jsonArray(order)}::jsonb)`.execute(db);
      const sorted = answers(rows, items.length, (r: ClaimedKey & { claimed: boolean | null }) =>
        r.claimed === null ? null : r,
      );
      const out = new Array<ClaimedKey | null | Error>(items.length);
      order.forEach((o, at) => {
        out[o.i] = sorted[at] as ClaimedKey | null | Error;
      });
      return out;
    }),
    stores: settle<StoredAnswer, undefined>(async (items) => {
      const { rows } = await sql<{ i: number; error: string | null }>`
        select * from lock_idempotency_stores(${jsonArray(items)}::jsonb)`.execute(db);
      return answers(rows, items.length, () => undefined);
    }),
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
export const claimIdempotencyKey = (db: Db, c: IdempotencyClaim) => unwrap(batchersOf(db).claims.submit(c));

/** Stores a request's answer under its Idempotency-Key. */
export const storeIdempotentAnswer = (db: Db, a: StoredAnswer) => unwrap(batchersOf(db).stores.submit(a));

/** Journals a command for an actor before it is sent (an effect intent its commit releases). */
export const journalMessage = (db: Db, m: JournaledMessage) => unwrap(batchersOf(db).journal.submit(m));

/** A credential's read-model row under its tenant (dates as ISO text), or null. */
export const readCredentialRow = (db: Db, tenant: string, id: string) =>
  unwrap(batchersOf(db).credentials.submit({ tenant, id }));
