import { type Kysely, sql } from 'kysely';

/**
 * The audit chain's head moves only through the chain's trigger:
 * - `audit_chain()` runs as its owner (`SECURITY DEFINER`, fixed search_path), and the runtime role loses
 *   INSERT and UPDATE on `audit_heads`: it can append entries, never move or fork the head. It keeps SELECT
 *   (the verifier compares the chain's end with the head).
 * - `lock_stamp_inbox_epoch(epoch)`: the one-time stamp of snapshots written before the inbox stream's
 *   identity was kept, which the service used to run as the owner at start; now the runtime role calls it,
 *   so the service needs no owner connection when it does not migrate.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION audit_chain() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE head audit_heads%ROWTYPE;
    BEGIN
      INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (NEW.tenant_id, 0, '\\x'::bytea)
        ON CONFLICT (tenant_id) DO NOTHING;
      SELECT * INTO head FROM audit_heads WHERE tenant_id = NEW.tenant_id FOR UPDATE;
      NEW.seq := head.seq + 1;
      NEW.prev_hash := head.hash;
      NEW.hash := sha256(head.hash || convert_to(NEW.entry, 'UTF8'));
      UPDATE audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE tenant_id = NEW.tenant_id;
      RETURN NEW;
    END $$;
    REVOKE ALL ON FUNCTION audit_chain() FROM PUBLIC;
    -- The owner (the trigger's definer) is subject to FORCE ROW LEVEL SECURITY too: its own policy.
    CREATE POLICY audit_chain_definer ON audit_heads TO CURRENT_USER USING (true) WITH CHECK (true);
    REVOKE INSERT, UPDATE, DELETE ON audit_heads FROM lock_runtime;

    CREATE FUNCTION lock_stamp_inbox_epoch(p_epoch text) RETURNS bigint
    LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      WITH stamped AS (
        UPDATE actor_snapshots SET inbox_epoch = p_epoch WHERE inbox_epoch IS NULL RETURNING 1
      ) SELECT count(*) FROM stamped;
    $$;
    REVOKE ALL ON FUNCTION lock_stamp_inbox_epoch(text) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_stamp_inbox_epoch(text) TO lock_runtime;
  `.execute(db);
}
