/** Through REST, a room whose lock is on Salto KS: Salto chooses the PIN, and the guest gets that one. */
import { SALTO_KS_SIM_DEFAULTS, startSaltoKsSimulator } from '../../src/io/vendors/saltoKs/index.ts';
import { vendorRestScenario } from '../support/vendorRestScenario.ts';

vendorRestScenario('salto-ks', async () => {
  const sim = await startSaltoKsSimulator({ lockCount: 2, pinReadyAfterMs: 300 });
  const lockRef = sim.state().locks[0]?.ref;
  if (!lockRef) throw new Error('the simulator seeds locks');
  return {
    config: { baseUrl: sim.url, ...SALTO_KS_SIM_DEFAULTS },
    lockRef,
    kind: 'pin',
    inPlace: true,
    vendorPins: true,
    // Salto's keypads take the PIN then '#': the guest is told so with the PIN.
    pinEntry: 'Type the PIN, then #.',
    async held(ref) {
      return sim.state().credentials.filter((c) => c.lockRef === ref);
    },
    close: () => sim.close(),
  };
});
