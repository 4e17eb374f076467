/**
 * docs/vendors/README.md's capability matrix is what the adapters declare, and says for each capability
 * whether the vendor's public documentation supports it or it is modelled (docs kept true to the code).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  applies,
  CAPABILITY_COLUMNS,
  capabilityEvidence,
  cell,
} from '../../src/io/vendors/capabilityEvidence.ts';
import { vendorCapabilities, vendorNames } from '../../src/io/vendors/registry.ts';

describe('vendor capabilities', () => {
  it('vendor capabilities: the documented matrix matches every adapter, with each claim documented or modelled', () => {
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
      expect(documented[v], v).toEqual(CAPABILITY_COLUMNS.map((col) => cell(c, col)));
    }
  });

  it('vendor capabilities: every capability claimed has its evidence, and nothing unclaimed has any', () => {
    for (const v of vendorNames) {
      const c = vendorCapabilities(v);
      for (const col of CAPABILITY_COLUMNS) {
        const claimed = applies(c, col) && (col === 'kinds' ? c.kinds.length > 0 : c[col] === true);
        const e = capabilityEvidence[v]?.[col];
        if (claimed) {
          expect(e, `${v} ${col}`).toBeDefined();
          expect(e?.source.length, `${v} ${col}`).toBeGreaterThan(10);
        } else expect(e, `${v} ${col}`).toBeUndefined();
      }
    }
  });
});
