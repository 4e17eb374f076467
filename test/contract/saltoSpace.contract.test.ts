/**
 * The LockAdapter contract against the Salto Space (SHIP) adapter and its simulator: guest cards encoded
 * at an encoder. SHIP has no tokens, no rate limit and no request-date check: those cases are skipped.
 */
import {
  createSaltoSpaceAdapter,
  SALTO_SPACE_SIM_DEFAULTS,
  startSaltoSpaceSimulator,
} from '../../src/io/vendors/saltoSpace/index.ts';
import { heldOn, lockAdapterContract, uniquePins } from './lockAdapterContract.ts';

lockAdapterContract(
  'salto-space',
  async () => {
    const sim = await startSaltoSpaceSimulator({ doorCount: 3 });
    const adapter = createSaltoSpaceAdapter({
      config: { baseUrl: sim.url, ...SALTO_SPACE_SIM_DEFAULTS },
      timeoutMs: 2000,
    });
    const none = { outage: false, encoderTimeout: false, encoderOffline: false, invalidCard: false };
    return {
      adapter,
      kind: 'card',
      lockRefs: ['R401', 'R402'],
      unknownLockRef: 'R999',
      credentialsOn: heldOn(() => sim.state()),
      faults: {
        clear: () => sim.setFaults(none),
        outage: () => sim.setFaults({ outage: true }),
        named: (name) => sim.setFaults({ [name]: true }),
      },
      pin: uniquePins(),
      close: () => sim.close(),
    };
  },
  {
    rateLimit: false,
    clockSkew: false,
    tokenExpiry: false,
    vendorFaults: {
      encoderTimeout: { failure: 'ENCODER_TIMEOUT', retryable: true },
      encoderOffline: { failure: 'OFFLINE', retryable: true },
      invalidCard: { failure: 'CARD_MEDIA', retryable: false },
    },
  },
);
