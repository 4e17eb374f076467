/**
 * The LockAdapter contract against the Seam adapter and Seam's own fake (@seamapi/fake-seam-connect).
 * The fake has no rate limit, no clock check and API keys that do not expire: those cases are skipped.
 */
import { createSeamAdapter, startSeamFake } from '../../src/io/vendors/seam/index.ts';
import { lockAdapterContract, uniquePins } from './lockAdapterContract.ts';

// Every route the contract calls: the fake's outage is per route.
const ROUTES = [
  '/devices/list',
  '/devices/get',
  '/access_codes/list',
  '/access_codes/create',
  '/access_codes/update',
  '/access_codes/delete',
  '/locks/unlock_door',
];

lockAdapterContract(
  'seam',
  async () => {
    const fake = await startSeamFake();
    const adapter = createSeamAdapter({
      config: { endpoint: fake.url, apiKey: fake.apiKey },
      timeoutMs: 4000,
    });
    return {
      adapter,
      lockRefs: ['august_device_1', 'august_device_2'],
      unknownLockRef: 'no_such_device',
      async credentialsOn(lockRef) {
        return (await fake.accessCodes(lockRef)).map((c) => ({
          ref: c.access_code_id,
          validFrom: String(c.starts_at),
          validUntil: String(c.ends_at),
        }));
      },
      faults: {
        clear: () => fake.outage([]),
        outage: () => fake.outage(ROUTES),
      },
      pin: uniquePins(),
      close: () => fake.close(),
    };
  },
  { rateLimit: false, clockSkew: false, tokenExpiry: false },
);
