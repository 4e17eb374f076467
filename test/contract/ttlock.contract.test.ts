/**
 * The LockAdapter contract against the TTLock adapter and its simulator, and TTLock's gateway: one
 * operation per lock at a time (-3003) and a lock no gateway reaches (-2012).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/ids.ts';
import { VendorError } from '../../src/io/vendors/port.ts';
import type { KeyKind } from '../../src/machines/index.ts';
import {
  createTtlockAdapter,
  startTtlockSimulator,
  TTLOCK_SIM_DEFAULTS,
  type TtlockSimulator,
} from '../../src/io/vendors/ttlock/index.ts';
import { type ContractVendor, heldOn, lockAdapterContract, uniquePins } from './lockAdapterContract.ts';

const adapterFor = (sim: TtlockSimulator) =>
  createTtlockAdapter({
    config: { baseUrl: sim.url, ...TTLOCK_SIM_DEFAULTS },
    clock: systemClock,
    timeoutMs: 2000,
  });

/** The TTLock contract vendor for one kind: its simulator, the credentials of that kind, its faults. */
async function ttlockVendor(
  kind: KeyKind,
  extra: (sim: TtlockSimulator) => Partial<ContractVendor> = () => ({}),
): Promise<ContractVendor> {
  const sim = await startTtlockSimulator({ lockCount: 3 });
  return {
    adapter: adapterFor(sim),
    kind,
    lockRefs: ['7001', '7002'],
    unknownLockRef: '999999',
    credentialsOn: heldOn(() => ({ credentials: sim.state().credentials.filter((c) => c.kind === kind) })),
    faults: {
      clear: () =>
        sim.setFaults({
          outage: false,
          rateLimited: false,
          clockSkewMs: 0,
          lockBusy: false,
          gatewayOffline: false,
          gatewayMs: 0,
        }),
      outage: () => sim.setFaults({ outage: true }),
      rateLimit: () => sim.setFaults({ rateLimited: true }),
      clockSkew: (ms) => sim.setFaults({ clockSkewMs: ms }),
      expireTokens: () => sim.expireTokens(),
      named: (name) => sim.setFaults({ [name]: true }),
    },
    pin: uniquePins(),
    close: () => sim.close(),
    ...extra(sim),
  };
}

lockAdapterContract('ttlock', () => ttlockVendor('pin'), {
  vendorFaults: {
    lockBusy: { failure: 'BUSY', retryable: true },
    gatewayOffline: { failure: 'OFFLINE', retryable: true },
  },
});

// IC cards: the card's number registered at the lock (identityCard), changed in place, deleted.
lockAdapterContract(
  'ttlock',
  () => {
    const numbers = uniquePins();
    return ttlockVendor('card', () => ({ cardNumber: () => `36${numbers()}` }));
  },
  { label: 'cards' },
);

// eKeys: mobile keys sent to guests' TTLock app accounts, changed in place, deleted.
lockAdapterContract(
  'ttlock',
  () =>
    ttlockVendor('mobile_key', (sim) => ({
      // One eKey per account per lock: each credential goes to an account of its own.
      recipient: () => {
        const account = `guest-${randomUUID().slice(0, 8)}@example.com`;
        sim.registerAppAccount(account);
        return account;
      },
    })),
  { label: 'eKeys' },
);

describe('ttlock: the gateway', () => {
  let sim: TtlockSimulator;
  beforeAll(async () => {
    sim = await startTtlockSimulator({ lockCount: 2 });
  });
  afterAll(() => sim?.close());
  const pins = uniquePins();
  const issue = (lockRef: string) =>
    adapterFor(sim).issueCredential({
      operationId: randomUUID(),
      lockRef,
      kind: 'pin',
      validFrom: new Date('2026-12-01T14:00:00.000Z'),
      validUntil: new Date('2026-12-03T11:00:00.000Z'),
      pin: pins(),
      lookupFirst: false,
    });

  it('ttlock: two operations on one lock at once: the second is BUSY; another lock is not held up', async () => {
    sim.setFaults({ gatewayMs: 150 });
    const results = await Promise.allSettled([issue('7001'), issue('7001'), issue('7002')]);
    sim.setFaults({ gatewayMs: 0 });
    const busy = results.filter(
      (r) => r.status === 'rejected' && (r.reason as VendorError).failure === 'BUSY',
    );
    expect(busy).toHaveLength(1);
    expect(results[2]?.status).toBe('fulfilled');
  });

  it('ttlock: a lock taken off its gateway is OFFLINE until it is back', async () => {
    sim.setLockOnline('7002', false);
    const e = await issue('7002').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VendorError);
    expect([(e as VendorError).failure, (e as VendorError).retryable]).toEqual(['OFFLINE', true]);
    sim.setLockOnline('7002', true);
    await expect(issue('7002')).resolves.toMatchObject({ vendorRef: expect.any(String) });
  });
});
