/** The LockAdapter contract against the TTLock adapter and its simulator. */
import { systemClock } from '../../src/ids.ts';
import {
  createTtlockAdapter,
  startTtlockSimulator,
  TTLOCK_SIM_DEFAULTS,
} from '../../src/io/vendors/ttlock/index.ts';
import { lockAdapterContract, uniquePins } from './lockAdapterContract.ts';

lockAdapterContract('ttlock', async () => {
  const sim = await startTtlockSimulator({ lockCount: 3 });
  const adapter = createTtlockAdapter({
    config: { baseUrl: sim.url, ...TTLOCK_SIM_DEFAULTS },
    clock: systemClock,
    timeoutMs: 2000,
  });
  return {
    adapter,
    lockRefs: ['7001', '7002'],
    unknownLockRef: '999999',
    async credentialsOn(lockRef) {
      return sim
        .state()
        .credentials.filter((c) => c.lockRef === lockRef)
        .map(({ ref, validFrom, validUntil }) => ({ ref, validFrom, validUntil }));
    },
    faults: {
      clear: () => sim.setFaults({ outage: false, rateLimited: false, clockSkewMs: 0 }),
      outage: () => sim.setFaults({ outage: true }),
      rateLimit: () => sim.setFaults({ rateLimited: true }),
      clockSkew: (ms) => sim.setFaults({ clockSkewMs: ms }),
      expireTokens: () => sim.expireTokens(),
    },
    pin: uniquePins(),
    close: () => sim.close(),
  };
});
