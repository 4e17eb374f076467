/** Through REST, a room whose lock is on TTLock: PINs are custom passcodes changed in place. */
import { startTtlockSimulator, TTLOCK_SIM_DEFAULTS } from '../../src/io/vendors/ttlock/index.ts';
import { vendorRestScenario } from '../support/vendorRestScenario.ts';

vendorRestScenario('ttlock', async () => {
  const sim = await startTtlockSimulator({ lockCount: 2 });
  return {
    config: { baseUrl: sim.url, ...TTLOCK_SIM_DEFAULTS },
    lockRef: '7001',
    kind: 'pin',
    inPlace: true,
    async held(lockRef) {
      return sim.state().credentials.filter((c) => c.lockRef === lockRef);
    },
    close: () => sim.close(),
  };
});
