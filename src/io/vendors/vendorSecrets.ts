/**
 * A property adapter's secrets (API keys, passwords, client keys), written through the API, sealed with the
 * tenant's data key, read only by the adapter resolver. Versions: writing a secret adds a version, which is
 * current at once; older versions stay until a call with the current one succeeds (`destroyOlder`), so a
 * rotation never leaves calls already running without the secret they started with.
 */
import { sql } from 'kysely';
import { LockError } from '../../errors.ts';
import { type Db, type Tx, withTenant } from '../db/index.ts';
import type { TenantKeyring } from '../crypto/tenantKeys.ts';

export interface SecretAddress {
  tenantId: string;
  propertyId: string;
  vendor: string;
}

export interface CurrentSecrets {
  values: Map<string, string>;
  versions: Record<string, number>;
  /** Some secret has a version older than its current one, to destroy after a successful call. */
  hasOlder: boolean;
}

export interface VendorSecretStore {
  /** Stores a new version; records who wrote it in the audit log (the name and version, never the value). */
  put(
    a: SecretAddress,
    name: string,
    value: string,
    by: string,
  ): Promise<{ version: number; createdAt: string }>;
  current(a: SecretAddress, names: readonly string[]): Promise<CurrentSecrets>;
  /** Deletes every version older than the ones given (after a call with those succeeded). */
  destroyOlder(a: SecretAddress, versions: Record<string, number>): Promise<void>;
  /** Opens a sealed version read elsewhere (the webhook ingress reads it before it knows the tenant). */
  open(a: SecretAddress, name: string, version: number, sealed: string): Promise<string>;
  /**
   * Replaces the current version's value with what `next` makes of it (a rotating refresh token), one
   * rotation at a time across every process: `next` runs holding the secret's lock, so no two callers
   * spend the same value. Nothing changes when `next` throws. Resolves with the new value.
   */
  rotate(a: SecretAddress, name: string, next: (current: string) => Promise<string>): Promise<string>;
  /**
   * A decommissioned adapter's secrets: every version of every secret destroyed and its webhook endpoint
   * removed (the vendor's callbacks are refused from then on), in one transaction holding each secret's lock
   * (a rotation under way finishes first). Recorded in the audit log (names and versions, never values).
   * Idempotent: a second call finds nothing and destroys nothing.
   */
  destroyAll(a: SecretAddress, by: string): Promise<{ destroyed: string[]; webhookRemoved: boolean }>;
  /** The secrets an adapter holds (names, not values) and whether it has a webhook endpoint. */
  inventory(a: SecretAddress): Promise<{ names: string[]; webhook: boolean }>;
}

/** One writer per secret at a time, across processes: versions and rotations never interleave. */
const lockSecret = (tx: Tx, a: SecretAddress, name: string) =>
  sql`select pg_advisory_xact_lock(hashtext(${`${a.tenantId}/${a.propertyId}/${a.vendor}/${name}`}))`.execute(
    tx,
  );

/** The names of an adapter's secrets (every version counted once), in order. */
const secretNames = async (tx: Tx, a: SecretAddress) =>
  (
    await tx
      .selectFrom('vendor_secrets')
      .select('name')
      .distinct()
      .where('property_id', '=', a.propertyId)
      .where('vendor', '=', a.vendor)
      .orderBy('name')
      .execute()
  ).map((r) => r.name);

const label = (a: SecretAddress, name: string, version: number) =>
  `vendor-secret\n${a.propertyId}\n${a.vendor}\n${name}\n${version}`;

export function createVendorSecretStore(db: Db, keyring: TenantKeyring): VendorSecretStore {
  return {
    async put(a, name, value, by) {
      return withTenant(db, a.tenantId, async (tx) => {
        await lockSecret(tx, a, name);
        const last = await tx
          .selectFrom('vendor_secrets')
          .select((e) => e.fn.max('version').as('v'))
          .where('property_id', '=', a.propertyId)
          .where('vendor', '=', a.vendor)
          .where('name', '=', name)
          .executeTakeFirst();
        const version = Number(last?.v ?? 0) + 1;
        const sealed = await keyring.seal(a.tenantId, label(a, name, version), value);
        const row = await tx
          .insertInto('vendor_secrets')
          .values({
            tenant_id: a.tenantId,
            property_id: a.propertyId,
            vendor: a.vendor,
            name,
            version,
            sealed,
          })
          .returning('created_at')
          .executeTakeFirstOrThrow();
        const at = row.created_at.toISOString();
        await tx
          .insertInto('audit_log')
          .values({
            tenant_id: a.tenantId,
            entry: JSON.stringify({
              at,
              actor: `property/${a.propertyId}`,
              by,
              event: 'vendorSecret.set',
              detail: { vendor: a.vendor, name, version },
            }),
          })
          .execute();
        return { version, createdAt: at };
      });
    },

    async current(a, names) {
      const values = new Map<string, string>();
      const versions: Record<string, number> = {};
      if (names.length === 0) return { values, versions, hasOlder: false };
      const rows = await withTenant(db, a.tenantId, (tx) =>
        tx
          .selectFrom('vendor_secrets')
          .select(['name', 'version', 'sealed'])
          .where('property_id', '=', a.propertyId)
          .where('vendor', '=', a.vendor)
          .where('name', 'in', [...names])
          .orderBy('version', 'desc')
          .execute(),
      );
      let hasOlder = false;
      for (const r of rows) {
        if (Object.hasOwn(versions, r.name)) {
          hasOlder = true;
          continue;
        }
        versions[r.name] = r.version;
        values.set(r.name, await keyring.open(a.tenantId, label(a, r.name, r.version), r.sealed));
      }
      const missing = names.filter((n) => !values.has(n));
      if (missing.length > 0)
        throw new LockError(
          'LOCK.VENDOR_NOT_ENABLED',
          `vendor ${a.vendor} of property ${a.propertyId} needs the secret ${missing.join(', ')}; ` +
            `PUT /api/v1/properties/${a.propertyId}/vendor-adapters/${a.vendor}/secrets/<name>`,
        );
      return { values, versions, hasOlder };
    },

    open: (a, name, version, sealed) => keyring.open(a.tenantId, label(a, name, version), sealed),

    async rotate(a, name, next) {
      return withTenant(db, a.tenantId, async (tx) => {
        await lockSecret(tx, a, name);
        const row = await tx
          .selectFrom('vendor_secrets')
          .select(['version', 'sealed'])
          .where('property_id', '=', a.propertyId)
          .where('vendor', '=', a.vendor)
          .where('name', '=', name)
          .orderBy('version', 'desc')
          .limit(1)
          .executeTakeFirst();
        if (!row)
          throw new LockError(
            'LOCK.VENDOR_NOT_ENABLED',
            `vendor ${a.vendor} of property ${a.propertyId} needs the secret ${name}; ` +
              `PUT /api/v1/properties/${a.propertyId}/vendor-adapters/${a.vendor}/secrets/${name}`,
          );
        const value = await next(await keyring.open(a.tenantId, label(a, name, row.version), row.sealed));
        // The version stays: a rotation is the same secret moving on, not an operator's new one.
        await tx
          .updateTable('vendor_secrets')
          .set({ sealed: await keyring.seal(a.tenantId, label(a, name, row.version), value) })
          .where('property_id', '=', a.propertyId)
          .where('vendor', '=', a.vendor)
          .where('name', '=', name)
          .where('version', '=', row.version)
          .execute();
        return value;
      });
    },

    async inventory(a) {
      return withTenant(db, a.tenantId, async (tx) => {
        const names = await secretNames(tx, a);
        const endpoint = await tx
          .selectFrom('webhook_endpoints')
          .select('id')
          .where('property_id', '=', a.propertyId)
          .where('vendor', '=', a.vendor)
          .executeTakeFirst();
        return { names, webhook: endpoint !== undefined };
      });
    },

    async destroyAll(a, by) {
      return withTenant(db, a.tenantId, async (tx) => {
        const names = await secretNames(tx, a);
        for (const name of names) await lockSecret(tx, a, name);
        const gone = await tx
          .deleteFrom('vendor_secrets')
          .where('property_id', '=', a.propertyId)
          .where('vendor', '=', a.vendor)
          .returning(['name', 'version'])
          .execute();
        const endpoints = await tx
          .deleteFrom('webhook_endpoints')
          .where('property_id', '=', a.propertyId)
          .where('vendor', '=', a.vendor)
          .returning('id')
          .execute();
        const destroyed = [...new Set(gone.map((g) => g.name))].sort();
        if (gone.length > 0 || endpoints.length > 0)
          await tx
            .insertInto('audit_log')
            .values({
              tenant_id: a.tenantId,
              entry: JSON.stringify({
                at: new Date().toISOString(),
                actor: `property/${a.propertyId}`,
                by,
                event: 'vendorSecret.destroyed',
                detail: {
                  vendor: a.vendor,
                  versions: gone.map((g) => `${g.name}@${g.version}`).sort(),
                  webhookRemoved: endpoints.length > 0,
                },
              }),
            })
            .execute();
        return { destroyed, webhookRemoved: endpoints.length > 0 };
      });
    },

    async destroyOlder(a, versions) {
      await withTenant(db, a.tenantId, async (tx) => {
        for (const [name, version] of Object.entries(versions))
          await tx
            .deleteFrom('vendor_secrets')
            .where('property_id', '=', a.propertyId)
            .where('vendor', '=', a.vendor)
            .where('name', '=', name)
            .where('version', '<', version)
            .execute();
      });
    },
  };
}
