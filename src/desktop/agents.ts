/**
 * The enrolled desktop agents: each bound to one property and its Ed25519 public key, active until revoked.
 * Enrolment and revocation are recorded in the audit log (never a key or a secret).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { LockError } from '../errors.ts';
import { type Db, withTenant } from '../io/db/index.ts';
import { publicKeyFromRaw } from './envelope.ts';

export interface DesktopAgent {
  id: string;
  propertyId: string;
  name: string;
  publicKey: string;
  status: 'active' | 'revoked';
  createdAt: string;
  revokedAt: string | null;
  revokedReason: string | null;
}

/** What the desktop event consumer knows of an agent before it knows the tenant. */
export interface AgentIdentity {
  tenantId: string;
  propertyId: string;
  publicKey: string;
  status: string;
}

export interface DesktopAgents {
  enroll(
    tenantId: string,
    a: { propertyId: string; name: string; publicKey: string },
    by: string,
  ): Promise<DesktopAgent>;
  get(tenantId: string, id: string): Promise<DesktopAgent | null>;
  list(tenantId: string, propertyId: string): Promise<DesktopAgent[]>;
  revoke(tenantId: string, id: string, reason: string, by: string): Promise<DesktopAgent>;
  /** Any tenant's agent by id (SECURITY DEFINER: only its tenant, property, key and status). */
  identity(id: string): Promise<AgentIdentity | null>;
}

type Row = {
  id: string;
  property_id: string;
  name: string;
  public_key: string;
  status: string;
  created_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
};
const view = (r: Row): DesktopAgent => ({
  id: r.id,
  propertyId: r.property_id,
  name: r.name,
  publicKey: r.public_key,
  status: r.status === 'revoked' ? 'revoked' : 'active',
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at ? r.revoked_at.toISOString() : null,
  revokedReason: r.revoked_reason,
});
const COLUMNS = [
  'id',
  'property_id',
  'name',
  'public_key',
  'status',
  'created_at',
  'revoked_at',
  'revoked_reason',
] as const;

export function createDesktopAgents(db: Db): DesktopAgents {
  const audit = (
    tenantId: string,
    agentId: string,
    by: string,
    event: string,
    detail: Record<string, unknown>,
  ) => JSON.stringify({ at: new Date().toISOString(), actor: `agent/${agentId}`, by, event, detail });
  return {
    async enroll(tenantId, a, by) {
      try {
        publicKeyFromRaw(a.publicKey);
      } catch {
        throw new LockError(
          'LOCK.VALIDATION',
          'publicKey must be a raw Ed25519 public key, base64 (32 bytes)',
        );
      }
      return withTenant(db, tenantId, async (tx) => {
        const id = randomUUID();
        const row = await tx
          .insertInto('desktop_agents')
          .values({
            id,
            tenant_id: tenantId,
            property_id: a.propertyId,
            name: a.name,
            public_key: a.publicKey,
            created_by: by,
          })
          .onConflict((oc) => oc.columns(['tenant_id', 'property_id', 'name']).doNothing())
          .returning(COLUMNS)
          .executeTakeFirst();
        if (!row) throw new LockError('LOCK.CONFLICT', `the property has an agent named ${a.name} already`);
        await tx
          .insertInto('audit_log')
          .values({
            tenant_id: tenantId,
            entry: audit(tenantId, id, by, 'agent.enrolled', { propertyId: a.propertyId, name: a.name }),
          })
          .execute();
        return view(row);
      });
    },
    async get(tenantId, id) {
      const r = await withTenant(db, tenantId, (tx) =>
        tx.selectFrom('desktop_agents').select(COLUMNS).where('id', '=', id).executeTakeFirst(),
      );
      return r ? view(r) : null;
    },
    async list(tenantId, propertyId) {
      const rows = await withTenant(db, tenantId, (tx) =>
        tx
          .selectFrom('desktop_agents')
          .select(COLUMNS)
          .where('property_id', '=', propertyId)
          .orderBy('created_at')
          .execute(),
      );
      return rows.map(view);
    },
    async revoke(tenantId, id, reason, by) {
      return withTenant(db, tenantId, async (tx) => {
        const r = await tx
          .updateTable('desktop_agents')
          .set({ status: 'revoked', revoked_at: new Date(), revoked_reason: reason })
          .where('id', '=', id)
          .where('status', '=', 'active')
          .returning(COLUMNS)
          .executeTakeFirst();
        if (r) {
          await tx
            .insertInto('audit_log')
            .values({ tenant_id: tenantId, entry: audit(tenantId, id, by, 'agent.revoked', { reason }) })
            .execute();
          // Its offline-issuance certificates go on the revocation list with it.
          await tx
            .updateTable('offline_certificates')
            .set({
              revoked_at: new Date(),
              revoked_reason: `agent revoked: ${reason}`,
              crl_at: sql<Date>`clock_timestamp()`,
              crl_xid: sql`pg_current_xact_id()`,
              crl_reason: 'revoked',
            })
            .where('agent_id', '=', id)
            .where('revoked_at', 'is', null)
            .execute();
        }
        const now =
          r ??
          (await tx.selectFrom('desktop_agents').select(COLUMNS).where('id', '=', id).executeTakeFirst());
        if (!now) throw new LockError('LOCK.NOT_FOUND', `agent ${id}`);
        return view(now);
      });
    },
    async identity(id) {
      const { rows } = await sql<{
        tenant_id: string;
        property_id: string;
        public_key: string;
        status: string;
      }>`
        select * from lock_desktop_agent(${id})`.execute(db);
      const r = rows[0];
      return r
        ? { tenantId: r.tenant_id, propertyId: r.property_id, publicKey: r.public_key, status: r.status }
        : null;
    },
  };
}
