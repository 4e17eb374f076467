/** Through REST, a room whose lock is on Seam (Seam's own fake): PINs are Seam access codes. */
import { startSeamFake } from '../../src/io/vendors/seam/index.ts';
import { vendorRestScenario } from '../support/vendorRestScenario.ts';

vendorRestScenario('seam', async () => {
  const fake = await startSeamFake();
  return {
    config: { endpoint: fake.url, apiKey: fake.apiKey },
    lockRef: 'august_device_1',
    kind: 'pin',
    inPlace: true,
    async held(lockRef) {
      return (await fake.accessCodes(lockRef)).map((c) => ({
        ref: c.access_code_id,
        validFrom: String(c.starts_at),
        validUntil: String(c.ends_at),
        pin: (c as { code?: string }).code ?? null,
      }));
    },
    close: () => fake.close(),
  };
});
