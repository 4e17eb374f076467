/** Through REST, a card credential for a room whose lock is on TTLock: the card's number, registered at the lock. */
import { startTtlockSimulator, TTLOCK_SIM_DEFAULTS } from '../../src/io/vendors/ttlock/index.ts';
import { vendorRestScenario } from '../support/vendorRestScenario.ts';

vendorRestScenario('ttlock', async () => {
  const sim = await startTtlockSimulator({ lockCount: 2 });
  return {
    config: { baseUrl: sim.url, ...TTLOCK_SIM_DEFAULTS },
    lockRef: '7001',
    kind: 'card',
    cardNumber: '3661413478',
    inPlace: true,
    async held(lockRef) {
      return sim.state().credentials.filter((c) => c.lockRef === lockRef && c.kind === 'card');
    },
    close: () => sim.close(),
  };
});
