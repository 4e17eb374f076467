/**
 * Per-property metric labels stay bounded: the first `max` (tenant, property) pairs keep their own labels for
 * good, every later pair counts as `other`, and a pair seen before the bound was reached never becomes `other`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundedPropertyLabels } from '../../src/metrics.ts';

describe('bounded property labels', () => {
  it('labels: at most max distinct pairs, first come keep theirs, the rest are other', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.tuple(fc.constantFrom('t1', 't2'), fc.constantFrom('a', 'b', 'c', 'd')), {
          maxLength: 40,
        }),
        (max, seen) => {
          const label = boundedPropertyLabels(max);
          const kept: string[] = [];
          for (const [tenant, property] of seen) {
            const l = label(tenant, property);
            const key = `${tenant}/${property}`;
            if (kept.includes(key) || kept.length < max) {
              if (!kept.includes(key)) kept.push(key);
              expect(l).toEqual({ tenant, property });
            } else expect(l).toEqual({ tenant: 'other', property: 'other' });
          }
          const distinct = new Set(seen.map(([t, p]) => label(t, p)).map((l) => `${l.tenant}/${l.property}`));
          expect(distinct.size).toBeLessThanOrEqual(max + 1);
        },
      ),
    );
  });
});
