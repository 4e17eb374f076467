/** The certificates issued to desk agents, kept for the revocation list (never the signature's secret). */
import { type Db, withTenant } from '../io/db/index.ts';
import type { OfflineCertificate } from './certificates.ts';

export interface CertificateStore {
  record(c: OfflineCertificate): Promise<void>;
  /** Whether the certificate was revoked (with its agent), and when. */
  revokedAt(tenantId: string, serial: string): Promise<Date | null>;
}

export function createCertificateStore(db: Db): CertificateStore {
  return {
    async record(c) {
      await withTenant(db, c.tenantId, (tx) =>
        tx
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
          .execute(),
      );
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
