import { type Kysely, sql } from 'kysely';

/**
 * Two more questions webhook routing must answer before any tenant is known, each a SECURITY DEFINER
 * function (owned by the migrating role, fixed search_path) that answers only that:
 * - `lock_device_routes`: like `lock_devices_by_vendor_ref`, with the property, so a callback that
 *   must be confirmed through the vendor's API can find the property's adapter;
 * - `lock_credential_by_grant`: the credential whose grant on a vendor's lock has a vendor reference
 *   (TTLock says asynchronously that a passcode never reached the lock).
 * And `webhook_inbox.route_after` / `route_attempts`: a webhook whose confirmation through the vendor
 * failed, or whose credential is not known yet, waits before routing is tried again (a few times),
 * instead of holding up the rows behind it; and the dispatcher may delete routed webhooks past retention.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE webhook_inbox ADD COLUMN route_after timestamptz;
    ALTER TABLE webhook_inbox ADD COLUMN route_attempts int NOT NULL DEFAULT 0;
    -- Routed webhooks are pruned after a retention period.
    GRANT DELETE ON webhook_inbox TO lock_dispatcher;

    CREATE FUNCTION lock_device_routes(p_vendor text, p_refs text[])
    RETURNS TABLE (tenant_id text, device_id text, property_id text, vendor_device_ref text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
      SELECT d.tenant_id, d.id, d.property_id, d.vendor_device_ref FROM lock_devices d
       WHERE d.vendor = p_vendor AND d.vendor_device_ref = ANY (p_refs) AND d.status <> 'decommissioned'
    $$;
    REVOKE ALL ON FUNCTION lock_device_routes(text, text[]) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_device_routes(text, text[]) TO lock_dispatcher;

    CREATE FUNCTION lock_credential_by_grant(p_vendor text, p_device_ref text, p_vendor_ref text)
    RETURNS TABLE (tenant_id text, credential_id text, lock_device_id text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
      SELECT k.tenant_id, k.id, d.id FROM lock_devices d
        JOIN key_credentials k ON k.tenant_id = d.tenant_id AND k.property_id = d.property_id
       WHERE d.vendor = p_vendor AND d.vendor_device_ref = p_device_ref AND d.status <> 'decommissioned'
         AND k.status NOT IN ('revoked', 'expired', 'failed')
         AND k.grants @> jsonb_build_array(jsonb_build_object('lockDeviceId', d.id, 'vendorRef', p_vendor_ref))
    $$;
    REVOKE ALL ON FUNCTION lock_credential_by_grant(text, text, text) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_credential_by_grant(text, text, text) TO lock_dispatcher;
  `.execute(db);
}
