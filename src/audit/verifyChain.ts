/**
 * Verifies a tenant's audit chain: sequence numbers run 1..n without a gap, each row's
 * prev_hash is the previous row's hash, and each hash is sha256(prev_hash || entry). Reads in pages so a
 * long chain never sits in memory at once. Anything edited, removed or inserted out of band shows up as
 * the first broken link, and a chain that ends before its head (kept by the chain's trigger and the group
 * commit's `lock_audit_append`, which alone may move it) as entries removed from the end.
 */
import { createHash } from 'node:crypto';
import { withTenant } from '../io/db/connect.ts';
import type { Db } from '../io/db/index.ts';

export type ChainVerdict =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; brokenAt: number; reason: string };

const PAGE = 5000;

export async function verifyAuditChain(db: Db, tenantId: string): Promise<ChainVerdict> {
  let prev = Buffer.alloc(0);
  let expectedSeq = 1;
  for (;;) {
    const rows = await withTenant(db, tenantId, (tx) =>
      tx
        .selectFrom('audit_log')
        .select(['seq', 'entry', 'prev_hash', 'hash'])
        .where('seq', '>=', String(expectedSeq))
        .orderBy('seq')
        .limit(PAGE)
        .execute(),
    );
    for (const r of rows) {
      const seq = Number(r.seq);
      const broken = (reason: string): ChainVerdict => ({
        ok: false,
        entries: expectedSeq - 1,
        brokenAt: seq,
        reason,
      });
      if (seq !== expectedSeq) return broken(`expected seq ${expectedSeq}`);
      if (!Buffer.from(r.prev_hash).equals(prev)) return broken('prev_hash is not the previous hash');
      const hash = createHash('sha256').update(prev).update(r.entry, 'utf8').digest();
      if (!hash.equals(Buffer.from(r.hash))) return broken('hash does not cover prev_hash and entry');
      prev = hash;
      expectedSeq++;
    }
    if (rows.length < PAGE) break;
  }
  // The head the trigger keeps is where the chain must end: rows removed from the end (or a chain cut short
  // by someone able to bypass the append-only trigger) leave a chain that is sound but shorter.
  const entries = expectedSeq - 1;
  const head = await withTenant(db, tenantId, (tx) =>
    tx.selectFrom('audit_heads').select(['seq', 'hash']).where('tenant_id', '=', tenantId).executeTakeFirst(),
  );
  const headSeq = head ? Number(head.seq) : 0;
  if (headSeq !== entries || (head && !Buffer.from(head.hash).equals(prev)))
    return {
      ok: false,
      entries,
      brokenAt: Math.min(entries, headSeq) + 1,
      reason: `the chain ends at ${entries} but its head is at ${headSeq}`,
    };
  return { ok: true, entries, head: prev.toString('hex') };
}
