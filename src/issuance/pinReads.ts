/**
 * A PIN a vendor chose anew after the issue is read once: the read is a row whose primary key is the
 * (credential, PIN) pair, so of two reads at once, in any processes, one gets it.
 */
import { type Db, withTenant } from '../io/db/index.ts';

/** The PINs of `refs` this read gets (those no earlier read took), recorded as read by `by`. */
export async function claimPinReads(
  db: Db,
  tenantId: string,
  credentialId: string,
  refs: string[],
  by: string,
): Promise<Set<string>> {
  if (refs.length === 0) return new Set();
  const rows = await withTenant(db, tenantId, (tx) =>
    tx
      .insertInto('credential_pin_reads')
      .values(
        refs.map((pin_ref) => ({ tenant_id: tenantId, credential_id: credentialId, pin_ref, read_by: by })),
      )
      .onConflict((oc) => oc.doNothing())
      .returning('pin_ref')
      .execute(),
  );
  return new Set(rows.map((r) => r.pin_ref));
}
