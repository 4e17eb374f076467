/**
 * Wiegand card formats (`../shared/reference/vendors.md` §4.2, checked against Proxmark3's
 * `wiegand_formats.c`): a card's facility code and number as the bits a reader sends, and back. Bits are a
 * string of `0`/`1`, the first transmitted bit first (position 1). A format is named, never guessed from
 * the length: 35- and 37-bit layouts differ between vendors.
 */

export type WiegandFormatName = 'H10301' | 'H10306' | 'H10302' | 'H10304' | 'C1k35s';
export const wiegandFormatNames = [
  'H10301',
  'H10306',
  'H10302',
  'H10304',
  'C1k35s',
] as const satisfies readonly WiegandFormatName[];

/** A card as a format carries it; formats without a facility code (H10302) carry 0. */
export interface WiegandCard {
  facilityCode: number;
  cardNumber: number;
}

export type WiegandFailure = 'LENGTH' | 'NOT_BINARY' | 'PARITY' | 'RANGE';

export class WiegandError extends Error {
  override readonly name = 'WiegandError';
  constructor(
    readonly failure: WiegandFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface WiegandFormat {
  readonly name: WiegandFormatName;
  readonly length: number;
  readonly maxFacilityCode: number;
  readonly maxCardNumber: number;
  encode(card: WiegandCard): string;
  /** Throws a WiegandError (length, a character other than 0/1, a parity bit wrong). */
  decode(bits: string): WiegandCard;
}

/** A field: its first position (1-based) and its width in bits. */
interface Field {
  start: number;
  width: number;
}
/** A parity bit at `position`, making the count of ones over `over` and itself even or odd. */
interface Parity {
  position: number;
  kind: 'even' | 'odd';
  over: number[];
}
interface Layout {
  name: WiegandFormatName;
  length: number;
  facility: Field | null;
  card: Field;
  /** In the order they are computed: a later parity bit may cover an earlier one (C1k35s). */
  parity: Parity[];
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const ones = (bits: number[], over: number[]) => over.reduce((n, p) => n + (bits[p - 1] ?? 0), 0);

function format(l: Layout): WiegandFormat {
  const maxFacilityCode = l.facility ? 2 ** l.facility.width - 1 : 0;
  const maxCardNumber = 2 ** l.card.width - 1;
  const write = (bits: number[], f: Field, value: number) => {
    for (let i = 0; i < f.width; i++) bits[f.start - 1 + i] = Math.floor(value / 2 ** (f.width - 1 - i)) % 2;
  };
  const read = (bits: number[], f: Field) =>
    bits.slice(f.start - 1, f.start - 1 + f.width).reduce((v, b) => v * 2 + b, 0);
  const parityBit = (bits: number[], p: Parity) => {
    const odd = ones(bits, p.over) % 2;
    return p.kind === 'even' ? odd : 1 - odd;
  };
  return {
    name: l.name,
    length: l.length,
    maxFacilityCode,
    maxCardNumber,
    encode(card) {
      const { facilityCode: fc, cardNumber: cn } = card;
      if (!Number.isSafeInteger(cn) || cn < 0 || cn > maxCardNumber)
        throw new WiegandError('RANGE', `${l.name}: card number must be 0–${maxCardNumber}`);
      if (!Number.isSafeInteger(fc) || fc < 0 || fc > maxFacilityCode)
        throw new WiegandError(
          'RANGE',
          l.facility
            ? `${l.name}: facility code must be 0–${maxFacilityCode}`
            : `${l.name} has no facility code`,
        );
      const bits = new Array<number>(l.length).fill(0);
      if (l.facility) write(bits, l.facility, fc);
      write(bits, l.card, cn);
      for (const p of l.parity) bits[p.position - 1] = parityBit(bits, p);
      return bits.join('');
    },
    decode(text) {
      if (text.length !== l.length)
        throw new WiegandError('LENGTH', `${l.name} has ${l.length} bits, not ${text.length}`);
      if (!/^[01]*$/.test(text)) throw new WiegandError('NOT_BINARY', `${l.name}: bits are 0 and 1 only`);
      const bits = [...text].map(Number);
      for (const p of l.parity)
        if (bits[p.position - 1] !== parityBit(bits, p))
          throw new WiegandError('PARITY', `${l.name}: ${p.kind} parity bit ${p.position} is wrong`);
      return { facilityCode: l.facility ? read(bits, l.facility) : 0, cardNumber: read(bits, l.card) };
    },
  };
}

/** Positions `from`–`to` but those whose position ≡ `skip` (mod 3): C1k35s's interleaved parity sets. */
const everyThirdOut = (from: number, to: number, skip: number) =>
  range(from, to).filter((p) => p % 3 !== skip);

/**
 * The HID layouts with a leading even parity bit over bits 2–`evenTo` and a trailing odd one over
 * `oddFrom`–(last − 1).
 */
const halves = (
  name: WiegandFormatName,
  length: number,
  facility: Field | null,
  card: Field,
  evenTo: number,
  oddFrom: number,
) =>
  format({
    name,
    length,
    facility,
    card,
    parity: [
      { position: 1, kind: 'even', over: range(2, evenTo) },
      { position: length, kind: 'odd', over: range(oddFrom, length - 1) },
    ],
  });

export const wiegandFormats: Record<WiegandFormatName, WiegandFormat> = {
  H10301: halves('H10301', 26, { start: 2, width: 8 }, { start: 10, width: 16 }, 13, 14),
  H10306: halves('H10306', 34, { start: 2, width: 16 }, { start: 18, width: 16 }, 17, 18),
  // The 37-bit pair: both parity windows take bit 19.
  H10302: halves('H10302', 37, null, { start: 2, width: 35 }, 19, 19),
  H10304: halves('H10304', 37, { start: 2, width: 16 }, { start: 18, width: 19 }, 19, 19),
  // HID Corporate 1000 (35 bit): company id 12 bits, card 20 bits; bit 2 and bit 35 over interleaved
  // two-of-three sets, then bit 1 over everything after it.
  C1k35s: format({
    name: 'C1k35s',
    length: 35,
    facility: { start: 3, width: 12 },
    card: { start: 15, width: 20 },
    parity: [
      { position: 2, kind: 'even', over: everyThirdOut(3, 34, 2) },
      { position: 35, kind: 'odd', over: everyThirdOut(2, 33, 1) },
      { position: 1, kind: 'odd', over: range(2, 35) },
    ],
  }),
};

/** The bits as hexadecimal (most significant first, left-padded to whole digits), as encoders take them. */
export function bitsToHex(bits: string): string {
  if (!/^[01]+$/.test(bits)) throw new WiegandError('NOT_BINARY', 'bits are 0 and 1 only');
  return BigInt(`0b${bits}`)
    .toString(16)
    .toUpperCase()
    .padStart(Math.ceil(bits.length / 4), '0');
}

/** Hexadecimal back to `length` bits; refuses a value that does not fit. */
export function hexToBits(hex: string, length: number): string {
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new WiegandError('NOT_BINARY', 'not hexadecimal');
  const bits = BigInt(`0x${hex}`).toString(2);
  if (bits.length > length) throw new WiegandError('LENGTH', `${hex} has more than ${length} bits`);
  return bits.padStart(length, '0');
}
