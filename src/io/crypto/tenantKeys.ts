/**
 * Each tenant's data key (AES-256), created on first use, stored only wrapped by the key-encryption key
 * (`tenant_keys`), unwrapped once per process and kept in memory. Seals a tenant's vendor secrets: the
 * associated data binds a sealed value to its tenant and to what it is (property, vendor, name, version),
 * so a sealed value moved to another row, another tenant or another name does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { freshNonce } from './nonces.ts';
import { LockError } from '../../errors.ts';
import { type Db, withTenant } from '../db/index.ts';
import type { KeyEncryptionKey } from './keyEncryption.ts';

export interface TenantKeyring {
  seal(tenantId: string, label: string, plaintext: string): Promise<string>;
  open(tenantId: string, label: string, sealed: string): Promise<string>;
}

export function createTenantKeyring(db: Db, kek: KeyEncryptionKey): TenantKeyring {
  const keys = new Map<string, Promise<Buffer>>();

  async function load(tenantId: string): Promise<Buffer> {
    const read = () =>
      withTenant(db, tenantId, (tx) =>
        tx
          .selectFrom('tenant_keys')
          .select(['kek', 'wrapped'])
          .where('tenant_id', '=', tenantId)
          .executeTakeFirst(),
      );
    let row = await read();
    if (!row) {
      const fresh = randomBytes(32);
      const wrapped = await kek.wrap(fresh, tenantId);
      // Two processes may create at once: the first row wins and both use it.
      await withTenant(db, tenantId, (tx) =>
        tx
          .insertInto('tenant_keys')
          .values({ tenant_id: tenantId, kek: kek.name, wrapped })
          .onConflict((c) => c.column('tenant_id').doNothing())
          .execute(),
      );
      row = await read();
      if (!row) throw new LockError('LOCK.INTERNAL', 'the tenant key was not stored');
    }
    if (row.kek !== kek.name)
      throw new LockError(
        'LOCK.INTERNAL',
        `the tenant key is wrapped by ${row.kek}, not by the configured key`,
      );
    return kek.unwrap(row.wrapped, tenantId);
  }

  function keyOf(tenantId: string): Promise<Buffer> {
    let k = keys.get(tenantId);
    if (!k) {
      k = load(tenantId);
      keys.set(tenantId, k);
      // A failed load (KMS down) is tried again next time, not remembered.
      k.catch(() => keys.delete(tenantId));
    }
    return k;
  }

  const aad = (tenantId: string, label: string) => Buffer.from(`${tenantId}\n${label}`);

  return {
    async seal(tenantId, label, plaintext) {
      const key = await keyOf(tenantId);
      const iv = freshNonce();
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(aad(tenantId, label));
      const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
      return ['t1', iv, ct, c.getAuthTag()]
        .map((b) => (typeof b === 'string' ? b : b.toString('base64url')))
        .join('.');
    },
    async open(tenantId, label, sealed) {
      const [v, iv, ct, tag] = sealed.split('.');
      if (v !== 't1' || !iv || !ct || !tag)
        throw new LockError('LOCK.INTERNAL', 'sealed secret has an unknown format');
      const key = await keyOf(tenantId);
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      d.setAAD(aad(tenantId, label));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
    },
  };
}
