import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonbRefuses } from '../../src/io/db/jsonbText.ts';

/** UTF-16 code units, weighted towards the ones that matter here: surrogates, NUL, backslashes, `u`. */
const unit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\\', 'u', 'd', '0', 'a'),
);
const text = fc.array(unit, { maxLength: 24 }).map((a) => a.join(''));
/** Well-formed UTF-16 (String.prototype.isWellFormed, which this TypeScript lib does not declare). */
const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const storable = (s: string) => !s.includes('\u0000') && !lone.test(s);

describe('jsonb text', () => {
  it('refuses exactly the JSON of text with a NUL or an unpaired surrogate', () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(jsonbRefuses(JSON.stringify(s))).toBe(!storable(s));
        expect(jsonbRefuses(JSON.stringify({ [s]: [1, s] }))).toBe(!storable(s));
      }),
      { numRuns: 5000 },
    );
  });

  it('reads escapes as a client may write them, and a literal backslash-u as text', () => {
    expect(jsonbRefuses('"\\u0000"')).toBe(true);
    expect(jsonbRefuses('"\\\\u0000"')).toBe(false); // a backslash, then the text u0000
    expect(jsonbRefuses('"\\\\\\u0000"')).toBe(true);
    expect(jsonbRefuses('"\\uD83D\\uDE00"')).toBe(false); // a pair, upper case
    expect(jsonbRefuses('"\\uD83D"')).toBe(true);
    expect(jsonbRefuses('"\\uDE00\\uD83D"')).toBe(true);
    expect(jsonbRefuses('"\\ud83d\\n\\ude00"')).toBe(true);
    expect(jsonbRefuses('"\\u00e9\\u20ac"')).toBe(false);
  });
});
