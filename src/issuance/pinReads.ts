/**
 * A PIN a vendor chose anew after the issue is read once: the read is a row whose primary key is the
 * (credential, PIN) pair, so of two reads at once, in any processes, one gets it. A read that names an
 * Idempotency-Key may be asked again by the same caller with the same key (its answer was lost) and gets the
 * same PINs; nobody else, and no other key, ever gets them again.
 */
import { type Db, withTenant } from '../io/db/index.ts';

/** The PINs of `refs` this read gets (those no earlier read took, or this same read took), recorded as read. */
export async function claimPinReads(
  db: Db,
  tenantId: string,
  credentialId: string,
  refs: string[],
  read: { by: string; key: string | null },
): Promise<Set<string>> {
  if (refs.length === 0) return new Set();
  return withTenant(db, tenantId, async (tx) => {
    const taken = await tx
      .insertInto('credential_pin_reads')
      .values(
        refs.map((pin_ref) => ({
          tenant_id: tenantId,
          credential_id: credentialId,
          pin_ref,
          read_by: read.by,
          read_key: read.key,
        })),
      )
      .onConflict((oc) => oc.doNothing())
      .returning('pin_ref')
      .execute();
    const mine = new Set(taken.map((r) => r.pin_ref));
    const key = read.key;
    if (key === null) return mine;
    // And those this very read took before (same caller, same key): its answer was lost.
    const before = await tx
      .selectFrom('credential_pin_reads')
      .select('pin_ref')
      .where('credential_id', '=', credentialId)
      .where('pin_ref', 'in', refs)
      .where('read_by', '=', read.by)
      .where('read_key', '=', key)
      .execute();
    for (const r of before) mine.add(r.pin_ref);
    return mine;
  });
}
