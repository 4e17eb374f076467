/** The LockAdapter contract against the Salto KS adapter and its simulator (Salto chooses the PINs). */
import { systemClock } from '../../src/ids.ts';
import {
  createSaltoKsAdapter,
  SALTO_KS_SIM_DEFAULTS,
  startSaltoKsSimulator,
} from '../../src/io/vendors/saltoKs/index.ts';
import { heldOn, lockAdapterContract, uniquePins } from './lockAdapterContract.ts';

lockAdapterContract(
  'salto-ks',
  async () => {
    const sim = await startSaltoKsSimulator({ lockCount: 3, pinReadyAfterMs: 300 });
    const adapter = createSaltoKsAdapter({
      config: { baseUrl: sim.url, ...SALTO_KS_SIM_DEFAULTS },
      clock: systemClock,
      timeoutMs: 2000,
    });
    const [a, b] = sim.state().locks.map((l) => l.ref);
    if (!a || !b) throw new Error('the simulator seeds at least two locks');
    const held = (lockRef: string) => sim.state().credentials.filter((c) => c.lockRef === lockRef);
    return {
      adapter,
      lockRefs: [a, b],
      unknownLockRef: '00000000-0000-4000-8000-000000000000',
      credentialsOn: heldOn(() => sim.state()),
      async heldPin(lockRef, ref) {
        return held(lockRef).find((c) => c.ref === ref)?.pin ?? null;
      },
      faults: {
        clear: () => sim.setFaults({ outage: false, rateLimited: false }),
        outage: () => sim.setFaults({ outage: true }),
        rateLimit: () => sim.setFaults({ rateLimited: true }),
        expireTokens: () => sim.expireTokens(),
      },
      pin: uniquePins(),
      close: () => sim.close(),
    };
  },
  // Salto KS has no request-date check to skew.
  { clockSkew: false },
);
