/**
 * Through REST, a room whose door is on Salto Space: a guest card encoded at the encoder; a new window
 * means a new card (data on card), the old one cancelled.
 */
import { SALTO_SPACE_SIM_DEFAULTS, startSaltoSpaceSimulator } from '../../src/io/vendors/saltoSpace/index.ts';
import { vendorRestScenario } from '../support/vendorRestScenario.ts';

vendorRestScenario('salto-space', async () => {
  const sim = await startSaltoSpaceSimulator({ doorCount: 2 });
  return {
    config: { baseUrl: sim.url, ...SALTO_SPACE_SIM_DEFAULTS },
    lockRef: 'R401',
    kind: 'card',
    inPlace: false,
    async held(lockRef) {
      return sim.state().credentials.filter((c) => c.lockRef === lockRef);
    },
    close: () => sim.close(),
  };
});
