import { type Kysely, sql } from 'kysely';

/**
 * Webhooks per property adapter: each (tenant, property, vendor) has an endpoint with an unguessable id
 * (`/webhooks/v1/:vendor/:webhookId`) and a secret of its own, kept as the adapter's vendor secret named
 * `webhook` (sealed with the tenant's key). A stored webhook carries its endpoint's tenant and property, and
 * routing looks devices and credentials up only there: a device reference two tenants both registered can
 * never route one's webhooks to the other.
 * - `lock_webhook_endpoint(id)`: what the ingress needs before it knows the tenant (tenant, property, vendor,
 *   the current sealed secret); `SECURITY DEFINER`, answering only that.
 * - `lock_device_routes_in`, `lock_credential_by_grant_in`: the routing look-ups, inside one tenant and property.
 * - Owner policies on the tables definer functions read: under FORCE ROW LEVEL SECURITY the owner (the
 *   functions' definer) would otherwise see no rows once it is not a superuser.
 * - The inbox deduplicates per endpoint: two hotels' identical TTLock callbacks are two events.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE webhook_endpoints (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      property_id text NOT NULL,
      vendor text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, property_id, vendor)
    );
    ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
    ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON webhook_endpoints TO lock_runtime
      USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
    GRANT SELECT, INSERT ON webhook_endpoints TO lock_runtime;

    CREATE POLICY owner_definer ON webhook_endpoints TO CURRENT_USER USING (true) WITH CHECK (true);
    CREATE POLICY owner_definer ON vendor_secrets TO CURRENT_USER USING (true) WITH CHECK (true);
    CREATE POLICY owner_definer ON lock_devices TO CURRENT_USER USING (true) WITH CHECK (true);
    CREATE POLICY owner_definer ON key_credentials TO CURRENT_USER USING (true) WITH CHECK (true);

    ALTER TABLE webhook_inbox ADD COLUMN property_id text;
    ALTER TABLE webhook_inbox ADD COLUMN webhook_id text;
    ALTER TABLE webhook_inbox DROP CONSTRAINT webhook_inbox_vendor_event_id_key;
    CREATE UNIQUE INDEX webhook_inbox_endpoint_event ON webhook_inbox (webhook_id, event_id);

    CREATE FUNCTION lock_webhook_endpoint(p_id text)
    RETURNS TABLE (tenant_id text, property_id text, vendor text, version int, sealed text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
      SELECT e.tenant_id, e.property_id, e.vendor, s.version, s.sealed
        FROM webhook_endpoints e
        LEFT JOIN LATERAL (
          SELECT v.version, v.sealed FROM vendor_secrets v
           WHERE v.tenant_id = e.tenant_id AND v.property_id = e.property_id AND v.vendor = e.vendor
             AND v.name = 'webhook'
           ORDER BY v.version DESC LIMIT 1) s ON true
       WHERE e.id = p_id
    $$;
    REVOKE ALL ON FUNCTION lock_webhook_endpoint(text) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_webhook_endpoint(text) TO lock_runtime, lock_dispatcher;

    CREATE FUNCTION lock_device_routes_in(p_tenant text, p_property text, p_vendor text, p_refs text[])
    RETURNS TABLE (device_id text, vendor_device_ref text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
      SELECT d.id, d.vendor_device_ref FROM lock_devices d
       WHERE d.tenant_id = p_tenant AND d.property_id = p_property AND d.vendor = p_vendor
         AND d.vendor_device_ref = ANY (p_refs) AND d.status <> 'decommissioned'
    $$;
    REVOKE ALL ON FUNCTION lock_device_routes_in(text, text, text, text[]) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_device_routes_in(text, text, text, text[]) TO lock_dispatcher;

    CREATE FUNCTION lock_credential_by_grant_in(p_tenant text, p_property text, p_vendor text,
                                                p_device_ref text, p_vendor_ref text)
    RETURNS TABLE (credential_id text, lock_device_id text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
      SELECT k.id, d.id FROM lock_devices d
        JOIN key_credentials k ON k.tenant_id = d.tenant_id AND k.property_id = d.property_id
       WHERE d.tenant_id = p_tenant AND d.property_id = p_property
         AND d.vendor = p_vendor AND d.vendor_device_ref = p_device_ref AND d.status <> 'decommissioned'
         AND k.status NOT IN ('revoked', 'expired', 'failed')
         AND k.grants @> jsonb_build_array(jsonb_build_object('lockDeviceId', d.id, 'vendorRef', p_vendor_ref))
    $$;
    REVOKE ALL ON FUNCTION lock_credential_by_grant_in(text, text, text, text, text) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_credential_by_grant_in(text, text, text, text, text) TO lock_dispatcher;
  `.execute(db);
}
