/** The certificates issued to desk agents, kept for the revocation list (never the signature's secret). */
import { sql } from 'kysely';
import { type Db, withTenant } from '../io/db/index.ts';
import type { OfflineCertificate } from './certificates.ts';
import type { CrlEntry } from './provisional.ts';

/** A new certificate a desk asks for at most this often (a replayed handshake gets nothing). */
export const CERTIFICATE_MIN_INTERVAL_MS = 30_000;
/** Revocation-list entries per pull (a page; the cursor goes on from its last). */
export const CRL_PAGE = 1000;

export interface CertificateStore {
  /**
   * Records a certificate if its agent is still active and got none in the last 30 s, holding the agent's row
   * so a revocation running at once comes after it (and revokes it) or before it (and it is refused).
   */
  record(c: OfflineCertificate): Promise<'recorded' | 'revoked' | 'too_soon'>;
  /** Whether the certificate was revoked (with its agent), and when. */
  revokedAt(tenantId: string, serial: string): Promise<Date | null>;
  /** A certificate issued here, and whether it is on the revocation list (and why); null if never issued. */
  status(
    tenantId: string,
    serial: string,
  ): Promise<{ agentId: string; crlReason: 'revoked' | 'expired' | null } | null>;
  /** Puts one certificate on the revocation list (its agent stays enrolled); false if there is none such. */
  revoke(tenantId: string, serial: string, reason: string): Promise<boolean>;
  /**
   * The property's revocation list changed after `since` (serials, newest last), and the agents revoked; what
   * the desks pull.
   */
  crlSince(
    tenantId: string,
    propertyId: string,
    since: { change: string; serial: string } | null,
  ): Promise<{ serials: (CrlEntry & { change: string })[] }>;
  /** The serials of an agent's certificates, newest first. */
  list(tenantId: string, agentId: string): Promise<string[]>;
}

export function createCertificateStore(db: Db): CertificateStore {
  return {
    async record(c) {
      return withTenant(db, c.tenantId, async (tx) => {
        const agent = await tx
          .selectFrom('desktop_agents')
          .select('status')
          .where('id', '=', c.agentId)
          .forUpdate()
          .executeTakeFirst();
        if (agent?.status !== 'active') return 'revoked';
        const recent = await tx
          .selectFrom('offline_certificates')
          .select('serial')
          .where('agent_id', '=', c.agentId)
          .where('issued_at', '>', new Date(Date.now() - CERTIFICATE_MIN_INTERVAL_MS))
          .executeTakeFirst();
        if (recent) return 'too_soon';
        await tx
          .insertInto('offline_certificates')
          .values({
            serial: c.serial,
            tenant_id: c.tenantId,
            property_id: c.propertyId,
            agent_id: c.agentId,
            not_before: c.notBefore,
            not_after: c.notAfter,
            key_id: c.keyId,
          })
          .execute();
        return 'recorded';
      });
    },
    async list(tenantId, agentId) {
      const rows = await withTenant(db, tenantId, (tx) =>
        tx
          .selectFrom('offline_certificates')
          .select('serial')
          .where('agent_id', '=', agentId)
          .orderBy('issued_at', 'desc')
          .execute(),
      );
      return rows.map((r) => r.serial);
    },
    async status(tenantId, serial) {
      const r = await withTenant(db, tenantId, (tx) =>
        tx
          .selectFrom('offline_certificates')
          .select(['agent_id', 'crl_reason', 'revoked_at'])
          .where('serial', '=', serial)
          .executeTakeFirst(),
      );
      if (!r) return null;
      const crlReason = r.revoked_at ? 'revoked' : r.crl_reason === 'expired' ? 'expired' : null;
      return { agentId: r.agent_id, crlReason };
    },
    async revoke(tenantId, serial, reason) {
      const r = await withTenant(db, tenantId, (tx) =>
        tx
          .updateTable('offline_certificates')
          .set({
            revoked_at: new Date(),
            revoked_reason: reason,
            crl_at: sql<Date>`clock_timestamp()`,
            crl_xid: sql`pg_current_xact_id()`,
            crl_reason: 'revoked',
          })
          .where('serial', '=', serial)
          .where('revoked_at', 'is', null)
          .executeTakeFirst(),
      );
      return Number(r.numUpdatedRows) > 0;
    },
    async crlSince(tenantId, propertyId, since) {
      const rows = await withTenant(db, tenantId, (tx) => {
        let q = tx
          .selectFrom('offline_certificates')
          .select(['serial', 'agent_id', 'crl_reason', 'crl_at', sql<string>`crl_xid::text`.as('change')])
          .where('property_id', '=', propertyId)
          .where('crl_at', 'is not', null)
          .where('archived_at', 'is', null)
          // As the credentials' mirror: only entries of transactions older than every one still running.
          .where(sql<boolean>`crl_xid < pg_snapshot_xmin(pg_current_snapshot())`);
        if (since) q = q.where(sql<boolean>`(crl_xid, serial) > (${since.change}::xid8, ${since.serial})`);
        return q.orderBy('crl_xid').orderBy('serial').limit(CRL_PAGE).execute();
      });
      return {
        serials: rows.map((r) => ({
          serial: r.serial,
          agentId: r.agent_id,
          reason: r.crl_reason ?? 'revoked',
          at: (r.crl_at as Date).toISOString(),
          change: r.change,
        })),
      };
    },
    async revokedAt(tenantId, serial) {
      const r = await withTenant(db, tenantId, (tx) =>
        tx
          .selectFrom('offline_certificates')
          .select('revoked_at')
          .where('serial', '=', serial)
          .executeTakeFirst(),
      );
      return r?.revoked_at ?? null;
    },
  };
}
