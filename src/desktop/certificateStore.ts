/** The certificates issued to desk agents, kept for the revocation list (never the signature's secret). */
import { type Db, withTenant } from '../io/db/index.ts';
import type { OfflineCertificate } from './certificates.ts';

/** A new certificate a desk asks for at most this often (a replayed handshake gets nothing). */
export const CERTIFICATE_MIN_INTERVAL_MS = 30_000;

export interface CertificateStore {
  /**
   * Records a certificate if its agent is still active and got none in the last 30 s, holding the agent's row
   * so a revocation running at once comes after it (and revokes it) or before it (and it is refused).
   */
  record(c: OfflineCertificate): Promise<'recorded' | 'revoked' | 'too_soon'>;
  /** Whether the certificate was revoked (with its agent), and when. */
  revokedAt(tenantId: string, serial: string): Promise<Date | null>;
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
