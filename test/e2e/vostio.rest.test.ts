/** Through REST, a room whose door is on Vostio (over mutual TLS): a guest card, extended in place. */
import { startVostioSimulator, VOSTIO_SIM_DEFAULTS } from '../../src/io/vendors/vostio/index.ts';
import { vendorRestScenario } from '../support/vendorRestScenario.ts';

vendorRestScenario('vostio', async () => {
  const sim = await startVostioSimulator({ doorCount: 2 });
  return {
    config: {
      baseUrl: sim.url,
      ...VOSTIO_SIM_DEFAULTS,
      ca: sim.clientTls.ca,
      clientCert: sim.clientTls.cert,
      clientKey: sim.clientTls.key,
    },
    lockRef: 'door-501',
    kind: 'card',
    inPlace: true,
    async held(lockRef) {
      return sim.state().credentials.filter((c) => c.lockRef === lockRef);
    },
    close: () => sim.close(),
  };
});
