import { type Kysely, sql } from 'kysely';

/**
 * Offline issuance, reconciled (`docs/desktop-agent.md`):
 * - `provisional_issuances`: each provisional credential a desk pushed, with the decision taken on it the first
 *   time (accepted, accepted with changes, rejected and why) and the digest of what was signed, so a push sent
 *   again gets the same answer and a different record under the same id is told apart. Tenant-isolated.
 * - The certificate revocation list: `offline_certificates.crl_at` is when a certificate went on it (revoked
 *   with its agent, or expired: `lock_offline_cert_cleanup`), `archived_at` when it left the list agents pull
 *   (long past its end; kept for late pushes). The cleanup runs across tenants, so it is SECURITY DEFINER.
 * - `key_credentials.mirror_xid`, `offline_certificates.crl_xid`: the transaction of the last change, the desks'
 *   pull cursors (commit-safe: read only below the oldest running transaction).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE provisional_issuances (
      tenant_id text NOT NULL,
      id text NOT NULL,
      property_id text NOT NULL,
      agent_id text NOT NULL REFERENCES desktop_agents (id),
      certificate_serial text NOT NULL,
      digest text NOT NULL,
      -- What was written at the desk, so a rejected card can be found and its number removed at the door
      -- controller (the number sealed by the service's secret box, never in plain text).
      rooms text[] NOT NULL,
      valid_from timestamptz NOT NULL,
      valid_until timestamptz NOT NULL,
      reservation_id text,
      holder_ref text NOT NULL,
      uid text,
      card_number_sealed text NOT NULL,
      outcome text NOT NULL CHECK (outcome IN ('accepted', 'accepted_with_changes', 'rejected')),
      reason text,
      changes jsonb NOT NULL DEFAULT '[]',
      issued_at timestamptz NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX provisional_issuances_agent ON provisional_issuances (tenant_id, agent_id);
    CREATE INDEX provisional_issuances_rooms ON provisional_issuances USING gin (rooms);
    ALTER TABLE provisional_issuances ENABLE ROW LEVEL SECURITY;
    ALTER TABLE provisional_issuances FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON provisional_issuances TO lock_runtime
      USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
    GRANT SELECT, INSERT ON provisional_issuances TO lock_runtime;

    ALTER TABLE offline_certificates ADD COLUMN crl_at timestamptz;
    ALTER TABLE offline_certificates ADD COLUMN crl_reason text;
    ALTER TABLE offline_certificates ADD COLUMN archived_at timestamptz;
    -- The transaction that put a certificate on the list: the desks' cursor on it (as mirror_xid below).
    ALTER TABLE offline_certificates ADD COLUMN crl_xid xid8;
    UPDATE offline_certificates SET crl_at = revoked_at, crl_xid = pg_current_xact_id(), crl_reason = 'revoked'
     WHERE revoked_at IS NOT NULL;
    CREATE INDEX offline_certificates_crl ON offline_certificates (tenant_id, property_id, crl_xid, serial)
      WHERE crl_at IS NOT NULL AND archived_at IS NULL;
    CREATE INDEX offline_certificates_open ON offline_certificates (not_after) WHERE crl_at IS NULL;
    GRANT UPDATE (crl_at, crl_xid, crl_reason) ON offline_certificates TO lock_runtime;
    CREATE POLICY owner_definer ON offline_certificates TO CURRENT_USER USING (true) WITH CHECK (true);

    -- Expired certificates go on the list; those long past their end leave the list agents pull. \`p_now\` says
    -- which have ended; when an entry went on the list is the database's clock (the pull cursor's).
    CREATE FUNCTION lock_offline_cert_cleanup(p_now timestamptz, p_archive_after interval, p_limit int)
    RETURNS TABLE (listed int, archived int)
    LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      WITH listed AS (
        UPDATE offline_certificates SET crl_at = clock_timestamp(), crl_xid = pg_current_xact_id(), crl_reason = 'expired'
         WHERE serial IN (SELECT serial FROM offline_certificates
                           WHERE crl_at IS NULL AND not_after <= p_now LIMIT p_limit)
           AND crl_at IS NULL -- a revocation that committed meanwhile stays a revocation
        RETURNING 1),
      archived AS (
        UPDATE offline_certificates SET archived_at = clock_timestamp()
         WHERE serial IN (SELECT serial FROM offline_certificates
                           WHERE archived_at IS NULL AND crl_at IS NOT NULL
                             AND not_after <= p_now - p_archive_after LIMIT p_limit)
        RETURNING 1)
      SELECT (SELECT count(*)::int FROM listed), (SELECT count(*)::int FROM archived)
    $$;
    REVOKE ALL ON FUNCTION lock_offline_cert_cleanup(timestamptz, interval, int) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_offline_cert_cleanup(timestamptz, interval, int) TO lock_dispatcher;

    -- The transaction that last changed a credential's row: the desks' mirror cursor. A pull reads only rows of
    -- transactions older than every one still running (pg_snapshot_xmin), so none can commit below a cursor
    -- once it has passed: a change is never skipped, however late its commit. (\`updated_at\` is the event's
    -- time, which may be long before the commit.)
    ALTER TABLE key_credentials ADD COLUMN mirror_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
    CREATE FUNCTION lock_mirror_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.mirror_xid := pg_current_xact_id();
      RETURN NEW;
    END $$;
    CREATE TRIGGER key_credentials_mirror_stamp BEFORE UPDATE ON key_credentials
      FOR EACH ROW EXECUTE FUNCTION lock_mirror_stamp();
    CREATE INDEX key_credentials_mirror ON key_credentials (tenant_id, property_id, mirror_xid, id);

  `.execute(db);
}
