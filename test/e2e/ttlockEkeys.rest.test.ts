/** Through REST, a mobile key for a room whose lock is on TTLock: an eKey sent to the guest's TTLock account. */
import { startTtlockSimulator, TTLOCK_SIM_DEFAULTS } from '../../src/io/vendors/ttlock/index.ts';
import { vendorRestScenario } from '../support/vendorRestScenario.ts';

vendorRestScenario('ttlock', async () => {
  const sim = await startTtlockSimulator({ lockCount: 2 });
  return {
    config: { baseUrl: sim.url, ...TTLOCK_SIM_DEFAULTS },
    lockRef: '7001',
    kind: 'mobile_key',
    recipient: 'guest.one@example.com',
    inPlace: true,
    async held(lockRef) {
      return sim.state().credentials.filter((c) => c.lockRef === lockRef && c.kind === 'mobile_key');
    },
    close: () => sim.close(),
  };
});
