import { type Kysely, sql } from 'kysely';

/**
 * The webhook look-ups that searched every tenant by a vendor's reference (`lock_devices_by_vendor_ref`,
 * `lock_device_routes`, `lock_credential_by_grant`) gave way to their per-tenant, per-property forms
 * (migration 0010): dropped, so that no role keeps a way across tenants it no longer needs. The ingress
 * reads endpoints as the runtime role: the dispatcher loses `lock_webhook_endpoint`. And the single-request
 * issue context (replaced by `lock_issue_contexts`, migration 0007) goes too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP FUNCTION IF EXISTS lock_devices_by_vendor_ref(text, text[]);
    DROP FUNCTION IF EXISTS lock_device_routes(text, text[]);
    DROP FUNCTION IF EXISTS lock_credential_by_grant(text, text, text);
    DROP FUNCTION IF EXISTS lock_issue_context(text, text, text[]);
    REVOKE EXECUTE ON FUNCTION lock_webhook_endpoint(text) FROM lock_dispatcher;
  `.execute(db);
}
