/**
 * Salto KS tenants use the authorization-code flow: an operator logs in once and hands the service a
 * refresh token, which KS's identity server rotates on every use (a spent token presented again is refused
 * and, as reuse detection, revokes the whole grant). The adapter keeps the live token sealed in the
 * property's vendor secrets and spends it under the secret's lock, so processes sharing a property never
 * spend the same token twice. Before, the adapter knew only client credentials, which such a tenant refuses.
 *
 * Two "processes" here are two adapters on two database pools, sharing nothing but PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aesKek } from '../../src/io/crypto/keyEncryption.ts';
import { createTenantKeyring } from '../../src/io/crypto/tenantKeys.ts';
import { connect, type Db, withTenant, withUser } from '../../src/io/db/index.ts';
import type { RotatingSecrets } from '../../src/io/vendors/adapterResolver.ts';
import { VendorError } from '../../src/io/vendors/port.ts';
import {
  createSaltoKsAdapter,
  SALTO_KS_SIM_DEFAULTS,
  type SaltoKsSimulator,
  startSaltoKsSimulator,
} from '../../src/io/vendors/saltoKs/index.ts';
import { createVendorSecretStore, type SecretAddress } from '../../src/io/vendors/vendorSecrets.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('salto-ks refresh tokens', () => {
  let h: Harness;
  let sim: SaltoKsSimulator;
  const pools: Db[] = [];
  const kek = aesKek(Buffer.alloc(32, 7));
  const address: SecretAddress = {
    tenantId: `t-${randomUUID().slice(0, 8)}`,
    propertyId: randomUUID(),
    vendor: 'salto-ks',
  };

  beforeAll(async () => {
    h = await startHarness();
    sim = await startSaltoKsSimulator({ lockCount: 1, staffUsers: 0, clientGrants: 'authorization_code' });
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.destroy()));
    await sim?.close();
    await h?.close();
  });

  /** One process's view: its own pool, keyring and secret store over the shared database. */
  function processSecrets() {
    const db = connect(withUser(h.databaseUrl, 'lock_runtime'), { max: 4 });
    pools.push(db);
    return createVendorSecretStore(db, createTenantKeyring(db, kek));
  }
  const bound = (store: ReturnType<typeof processSecrets>): RotatingSecrets => ({
    rotate: (_field, next) => store.rotate(address, 'ksRefresh', next),
  });
  const adapterOf = (secrets?: RotatingSecrets) =>
    createSaltoKsAdapter({
      config: { baseUrl: sim.url, ...SALTO_KS_SIM_DEFAULTS, refreshToken: 'sealed' },
      clock: { now: () => new Date() },
      timeoutMs: 2000,
      ...(secrets ? { secrets } : {}),
    });
  const storedToken = async (store: ReturnType<typeof processSecrets>) =>
    (await store.current(address, ['ksRefresh'])).values.get('ksRefresh');

  it('salto-ks: an authorization-code tenant refuses client credentials (the simulator is strict)', async () => {
    const clientCredentials = createSaltoKsAdapter({
      config: { baseUrl: sim.url, ...SALTO_KS_SIM_DEFAULTS },
      clock: { now: () => new Date() },
      timeoutMs: 2000,
    });
    await expect(clientCredentials.listLocks()).rejects.toMatchObject({ failure: 'AUTH' });
  });

  it('salto-ks: two processes refreshing at once spend each refresh token once, and the stored one stays live', async () => {
    const first = processSecrets();
    const second = processSecrets();
    await first.put(address, 'ksRefresh', sim.issueRefreshToken(), 'operator');
    const adapters = [adapterOf(bound(first)), adapterOf(bound(second)), adapterOf(bound(first))];
    for (let round = 0; round < 3; round++) {
      sim.expireTokens();
      // Every adapter needs a new access token at the same moment.
      const locks = await Promise.all(adapters.map((a) => a.listLocks()));
      for (const l of locks) expect(l).toHaveLength(1);
    }
    expect(sim.refreshStats()).toEqual({ uses: 9, revokedGrants: 0 });
    // What is stored is the live token: a process started now can still log in with it.
    const fresh = processSecrets();
    sim.expireTokens();
    await expect(adapterOf(bound(fresh)).listLocks()).resolves.toHaveLength(1);
    // And it is sealed: the row never holds it in clear.
    const token = await storedToken(fresh);
    expect(token).toMatch(/^[0-9a-f-]{36}$/);
    const rows = await withTenant(pools[0] as Db, address.tenantId, (tx) =>
      tx.selectFrom('vendor_secrets').select('sealed').where('name', '=', 'ksRefresh').execute(),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.sealed).not.toContain(token);
  });

  it('salto-ks: spending a refresh token twice (no shared lock) revokes the grant: what the lock prevents', async () => {
    let live = sim.issueRefreshToken();
    // Each process reads the same stored token and stores what it got, with nothing serializing them.
    const unserialized: RotatingSecrets = {
      async rotate(_field, next) {
        const read = live;
        live = await next(read);
        return live;
      },
    };
    const before = sim.refreshStats().revokedGrants;
    sim.expireTokens();
    const results = await Promise.allSettled([
      adapterOf(unserialized).listLocks(),
      adapterOf(unserialized).listLocks(),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(sim.refreshStats().revokedGrants).toBe(before + 1);
    // The grant is gone: even the token the winner stored is refused, with a reason an operator can act on.
    sim.expireTokens();
    const refused = await adapterOf(unserialized)
      .listLocks()
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(VendorError);
    expect((refused as VendorError).failure).toBe('AUTH');
    expect((refused as VendorError).message).toMatch(/log in again/);
  });

  it('salto-ks: a successor whose storing failed is stored before the next refresh, and the grant lives on', async () => {
    const store = processSecrets();
    const other: SecretAddress = { ...address, propertyId: randomUUID() };
    await store.put(other, 'ksRefresh', sim.issueRefreshToken(), 'operator');
    let failNextCommit = true;
    // As the store, but the first rotation's commit fails after KS has answered (a lost connection).
    const flaky: RotatingSecrets = {
      rotate: (_f, next) =>
        store.rotate(other, 'ksRefresh', async (current) => {
          const value = await next(current);
          if (failNextCommit) {
            failNextCommit = false;
            throw new Error('connection lost before commit');
          }
          return value;
        }),
    };
    const adapter = adapterOf(flaky);
    const before = sim.refreshStats();
    sim.expireTokens();
    await expect(adapter.listLocks()).rejects.toThrow(/connection lost/);
    // The stored token is the spent one now; the adapter stores the successor first, then spends that.
    await expect(adapter.listLocks()).resolves.toHaveLength(1);
    expect(sim.refreshStats()).toEqual({ uses: before.uses + 2, revokedGrants: before.revokedGrants });
    // What is stored is live: another process logs in with it.
    sim.expireTokens();
    await expect(
      adapterOf({ rotate: (_f, next) => processSecrets().rotate(other, 'ksRefresh', next) }).listLocks(),
    ).resolves.toHaveLength(1);
  });

  it('salto-ks: a refused refresh leaves the stored token as it was', async () => {
    const store = processSecrets();
    const other: SecretAddress = { ...address, propertyId: randomUUID() };
    const spent = sim.issueRefreshToken();
    await store.put(other, 'ksRefresh', spent, 'operator');
    // Spent elsewhere first (an operator testing it by hand): KS answers invalid_grant.
    const elsewhere: RotatingSecrets = { rotate: async (_f, next) => next(spent) };
    sim.expireTokens();
    await adapterOf(elsewhere).listLocks();
    const adapter = adapterOf({ rotate: (_f, next) => store.rotate(other, 'ksRefresh', next) });
    sim.expireTokens();
    await expect(adapter.listLocks()).rejects.toMatchObject({ failure: 'AUTH' });
    expect((await store.current(other, ['ksRefresh'])).values.get('ksRefresh')).toBe(spent);
  });

  it('salto-ks: retiring access revokes the grant at KS, so no copy of its tokens opens anything; then nothing is left', async () => {
    const store = processSecrets();
    const retired: SecretAddress = { ...address, propertyId: randomUUID() };
    const first = sim.issueRefreshToken();
    await store.put(retired, 'ksRefresh', first, 'operator');
    const adapter = adapterOf({ rotate: (_f, next) => store.rotate(retired, 'ksRefresh', next) });
    await adapter.listLocks();
    // Someone copied the token stored now (a backup, an operator's notes).
    const copy = (await store.current(retired, ['ksRefresh'])).values.get('ksRefresh') ?? '';
    expect(copy).not.toBe(first);
    const revokedBefore = sim.refreshStats().revokedGrants;
    await expect(adapter.retireAccess?.()).resolves.toEqual(['refreshToken']);
    expect(sim.refreshStats().revokedGrants).toBe(revokedBefore + 1);
    // Nothing it held works any more: the stored token is refused.
    sim.expireTokens();
    await expect(adapter.listLocks()).rejects.toMatchObject({ failure: 'AUTH' });
    expect(await store.destroyAll(retired, 'operator')).toEqual({
      destroyed: ['ksRefresh'],
      webhookRemoved: false,
    });
    await expect(store.current(retired, ['ksRefresh'])).rejects.toThrow(/needs the secret ksRefresh/);
    // A copy taken earlier is refused by KS: its grant is revoked.
    const thief = adapterOf({ rotate: async (_f, next) => next(copy) });
    await expect(thief.listLocks()).rejects.toMatchObject({ failure: 'AUTH' });
    // Destroying again finds nothing.
    expect(await store.destroyAll(retired, 'operator')).toEqual({ destroyed: [], webhookRemoved: false });
  });
});
