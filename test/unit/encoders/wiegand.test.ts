/**
 * Wiegand codecs: every format round-trips every card it can carry, a single flipped bit is caught by a
 * parity bit, and known cards from public references encode as published.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bitsToHex,
  hexToBits,
  type WiegandError,
  wiegandFormatNames,
  wiegandFormats,
} from '../../../src/io/encoders/wiegand.ts';

const cardOf = (name: (typeof wiegandFormatNames)[number]) => {
  const f = wiegandFormats[name];
  return fc.record({
    facilityCode: fc.integer({ min: 0, max: f.maxFacilityCode }),
    cardNumber: fc.integer({ min: 0, max: f.maxCardNumber }),
  });
};

describe('wiegand', () => {
  it('wiegand: the published H10301 example (FC 42, CN 69) encodes bit for bit', () => {
    // accessgrid.com's table of formats (reference/vendors.md §4.2).
    expect(wiegandFormats.H10301.encode({ facilityCode: 42, cardNumber: 69 })).toBe(
      '10010101000000000010001010',
    );
    expect(wiegandFormats.H10301.decode('10010101000000000010001010')).toEqual({
      facilityCode: 42,
      cardNumber: 69,
    });
  });

  it('wiegand: C1k35s parity bits cover the interleaved sets HID defines (bit 1 over everything after it)', () => {
    const bits = wiegandFormats.C1k35s.encode({ facilityCode: 0xabc, cardNumber: 0x12345 });
    const at = (p: number) => Number(bits[p - 1]);
    const sum = (ps: number[]) => ps.reduce((n, p) => n + at(p), 0);
    const span = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
    expect(sum([2, ...span(3, 34).filter((p) => p % 3 !== 2)]) % 2).toBe(0);
    expect(sum([35, ...span(2, 33).filter((p) => p % 3 !== 1)]) % 2).toBe(1);
    expect(sum(span(1, 35)) % 2).toBe(1);
  });

  for (const name of wiegandFormatNames) {
    it(`wiegand: ${name} round-trips every card it can carry, also through hex`, () => {
      const f = wiegandFormats[name];
      fc.assert(
        fc.property(cardOf(name), (card) => {
          const bits = f.encode(card);
          expect(bits).toHaveLength(f.length);
          expect(f.decode(bits)).toEqual(card);
          expect(f.decode(hexToBits(bitsToHex(bits), f.length))).toEqual(card);
        }),
      );
    });

    it(`wiegand: ${name} refuses any single flipped bit as a parity error (every bit is under a parity bit)`, () => {
      const f = wiegandFormats[name];
      fc.assert(
        fc.property(cardOf(name), fc.integer({ min: 0, max: f.length - 1 }), (card, i) => {
          const bits = f.encode(card);
          const flipped = `${bits.slice(0, i)}${bits[i] === '1' ? '0' : '1'}${bits.slice(i + 1)}`;
          expect(() => f.decode(flipped)).toThrow(expect.objectContaining({ failure: 'PARITY' }));
        }),
      );
    });
  }

  it('wiegand: bad input is refused with the reason, never decoded', () => {
    const f = wiegandFormats.H10301;
    const failure = (run: () => unknown) => {
      try {
        run();
      } catch (e) {
        return (e as WiegandError).failure;
      }
      return 'accepted';
    };
    expect(failure(() => f.decode('1'.repeat(25)))).toBe('LENGTH');
    expect(failure(() => f.decode(`${'1'.repeat(25)}x`))).toBe('NOT_BINARY');
    expect(failure(() => f.encode({ facilityCode: 256, cardNumber: 1 }))).toBe('RANGE');
    expect(failure(() => f.encode({ facilityCode: 1, cardNumber: 65_536 }))).toBe('RANGE');
    expect(failure(() => wiegandFormats.H10302.encode({ facilityCode: 1, cardNumber: 1 }))).toBe('RANGE');
    expect(failure(() => f.encode({ facilityCode: 1.5, cardNumber: 1 }))).toBe('RANGE');
    expect(failure(() => hexToBits('FFFFFFFF', 26))).toBe('LENGTH');
  });
});
