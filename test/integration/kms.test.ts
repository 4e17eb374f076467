/**
 * Tenant data keys wrapped by Cloud KMS: the real `@google-cloud/kms` client over its REST fallback, pointed
 * at a local fake of the KMS REST surface. Only the wrapped key is stored; another process (a fresh keyring)
 * unwraps it through KMS; a wrapped key moved to another tenant does not unwrap.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudKmsKek } from '../../src/io/crypto/keyEncryption.ts';
import { createTenantKeyring } from '../../src/io/crypto/tenantKeys.ts';
import { connect, withTenant, withUser } from '../../src/io/db/index.ts';
import { TTLOCK_SIM_DEFAULTS } from '../../src/io/vendors/ttlock/index.ts';
import { createVendorSecretStore } from '../../src/io/vendors/vendorSecrets.ts';
import { type FakeKms, startFakeKms } from '../support/fakeKms.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('Cloud KMS key wrapping', () => {
  let kms: FakeKms;
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  const tenant = `t-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    kms = await startFakeKms();
    h = await startHarness({
      kek: cloudKmsKek(await kms.client(), kms.keyName),
      vendorPolicy: { mode: 'live', egress: { allow: new Set(['127.0.0.1']) }, envAllow: new Map() },
    });
    gw = await buildTestGateway(h);
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
    await kms?.close();
  });

  it('kms: secrets sealed under a KMS-wrapped tenant key work end to end; only the wrapped key is stored', async () => {
    const auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const p = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/properties',
      headers: auth,
      payload: { name: 'KMS Hotel', timezone: 'UTC' },
    });
    const propertyId = p.json().id as string;
    const base = `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`;
    for (const [name, value] of [
      ['clientSecret', TTLOCK_SIM_DEFAULTS.clientSecret],
      ['password', TTLOCK_SIM_DEFAULTS.password],
    ])
      expect(
        (
          await gw.app.inject({
            method: 'PUT',
            url: `${base}/secrets/${name}`,
            headers: auth,
            payload: { value },
          })
        ).statusCode,
      ).toBe(200);
    const configured = await gw.app.inject({
      method: 'PUT',
      url: base,
      headers: auth,
      payload: {
        status: 'active',
        config: {
          baseUrl: h.ttlock.url,
          clientId: TTLOCK_SIM_DEFAULTS.clientId,
          clientSecret: 'secret:clientSecret',
          username: TTLOCK_SIM_DEFAULTS.username,
          password: 'secret:password',
        },
      },
    });
    expect(configured.statusCode).toBe(200);
    const imported = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/lock-devices/bulk-import?propertyId=${propertyId}&vendor=ttlock`,
      headers: auth,
    });
    expect(imported.statusCode).toBe(200);
    expect(kms.calls.filter((c) => c.method === 'encrypt')).toHaveLength(1);

    const db = connect(withUser(h.databaseUrl, 'lock_runtime'), { max: 2 });
    try {
      const key = await withTenant(db, tenant, (tx) =>
        sql<{ kek: string; wrapped: string }>`select kek, wrapped from tenant_keys`.execute(tx),
      );
      expect(key.rows).toHaveLength(1);
      expect(key.rows[0]?.kek).toBe(kms.keyName);

      // Another process: a keyring of its own unwraps the tenant key through KMS and opens the secret.
      const decryptsBefore = kms.calls.filter((c) => c.method === 'decrypt').length;
      const store = createVendorSecretStore(
        db,
        createTenantKeyring(db, cloudKmsKek(await kms.client(), kms.keyName)),
      );
      const current = await store.current({ tenantId: tenant, propertyId, vendor: 'ttlock' }, ['password']);
      expect(current.values.get('password')).toBe(TTLOCK_SIM_DEFAULTS.password);
      expect(kms.calls.filter((c) => c.method === 'decrypt').length).toBe(decryptsBefore + 1);

      // The tenant id is the associated data: the wrapped key does not unwrap as another tenant's.
      const kek = cloudKmsKek(await kms.client(), kms.keyName);
      await expect(kek.unwrap(key.rows[0]?.wrapped ?? '', 'another-tenant')).rejects.toThrow(
        /Decryption failed/,
      );
    } finally {
      await db.destroy();
    }
  });
});
