/** docs/vendors/README.md's capability matrix is what the adapters declare (docs kept true to the code). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { vendorCapabilities, vendorNames } from '../../src/io/vendors/registry.ts';

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

describe('vendor capabilities', () => {
  it('vendor capabilities: the documented matrix matches every adapter', () => {
    const rows = readFileSync(new URL('../../docs/vendors/README.md', import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('| ['))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    const documented = Object.fromEntries(
      rows.map(([name, ...cells]) => [/\[(.+?)\]/.exec(name ?? '')?.[1], cells]),
    );
    expect(Object.keys(documented).sort()).toEqual([...vendorNames].sort());
    for (const v of vendorNames) {
      const c = vendorCapabilities(v);
      expect(documented[v], v).toEqual([
        c.kinds.join(', '),
        yesNo(c.updateValidityInPlace),
        yesNo(c.remoteUnlock),
        yesNo(c.battery),
        yesNo(c.callerChosenPin),
        yesNo(c.accessRecords),
        yesNo(c.cardNumbers),
        yesNo(c.mobileKeyRecipients),
      ]);
    }
  });
});
