/**
 * Serial framing: whatever the port delivers — valid frames split anywhere, garbage between them, truncated
 * or corrupted frames — each decoder gives back exactly the valid frames in order, says what it skipped, and
 * never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeHexFrame,
  encodeLine,
  encodeOnityFrame,
  ENQ,
  ETX,
  type FrameDecoder,
  hexFrameDecoder,
  lineDecoder,
  onityDecoder,
  type OnityUnit,
  STX,
} from '../../../src/io/encoders/frames.ts';

/** Splits `bytes` at the given cut points (as a port delivers them) and feeds them to a decoder. */
function feed<F>(d: FrameDecoder<F>, bytes: Buffer, cuts: number[]): { frames: F[]; skipped: number } {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const frames: F[] = [];
  let skipped = 0;
  let from = 0;
  for (const p of [...points, bytes.length]) {
    const r = d.push(bytes.subarray(from, p));
    frames.push(...r.frames);
    skipped += r.skipped.reduce((n, s) => n + s.bytes, 0);
    from = p;
  }
  return { frames, skipped };
}

/** Bytes that are no frame's start or end: the noise of a line. */
const noise = fc
  .uint8Array({ minLength: 1, maxLength: 20 })
  .map((b) => Buffer.from(b.filter((x) => x !== STX && x !== ETX && x !== ENQ && x !== 0x06 && x !== 0x15)));
const cuts = fc.array(fc.nat(), { maxLength: 12 });

describe('serial frames', () => {
  it('frames: the RDM6300 example decodes to its card bytes', () => {
    // 02 "10 00 86 F4 44" "26" 03 (reference/vendors.md §4.3).
    const d = hexFrameDecoder(5);
    expect(d.push(Buffer.from([0x02, ...Buffer.from('100086F44426', 'latin1'), 0x03])).frames).toEqual([
      Buffer.from([0x10, 0x00, 0x86, 0xf4, 0x44]),
    ]);
  });

  it('frames: hex frames come out whole and in order, whatever the chunking and the noise between them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(noise, fc.uint8Array({ minLength: 5, maxLength: 5 })), { maxLength: 8 }),
        cuts,
        (parts, at) => {
          const bytes = Buffer.concat(parts.flatMap(([n, data]) => [n, encodeHexFrame(data)]));
          const { frames } = feed(hexFrameDecoder(5), bytes, at);
          expect(frames).toEqual(parts.map(([, data]) => Buffer.from(data)));
        },
      ),
    );
  });

  it('frames: a corrupted or truncated hex frame is skipped with a reason, and the next one still comes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 5, maxLength: 5 }),
        fc.integer({ min: 1, max: 12 }),
        (data, i) => {
          const bad = Buffer.from(encodeHexFrame(data));
          bad[i] = bad[i] === 0x30 ? 0x31 : 0x30;
          const good = encodeHexFrame(Buffer.from([1, 2, 3, 4, 5]));
          const truncated = encodeHexFrame(data).subarray(0, 6);
          const d = hexFrameDecoder(5);
          const r = [d.push(bad), d.push(truncated), d.push(good)];
          expect(r.flatMap((x) => x.frames)).toEqual([Buffer.from([1, 2, 3, 4, 5])]);
          expect(r.flatMap((x) => x.skipped).length).toBeGreaterThan(0);
        },
      ),
    );
  });

  it('frames: text lines round-trip; over-long and binary lines are refused, the next line still comes', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[\x20-\x7e]{0,40}$/), { maxLength: 8 }), cuts, (lines, at) => {
        const bytes = Buffer.concat(lines.map((l) => encodeLine(l)));
        expect(feed(lineDecoder(), bytes, at).frames).toEqual(lines);
      }),
    );
    const d = lineDecoder({ maxLength: 8 });
    const r = [d.push(Buffer.from('0123456789ABCDEF')), d.push(Buffer.from('XYZ\r\nOK\r\nA\x00B\r\n'))];
    expect(r.flatMap((x) => x.frames)).toEqual(['OK']);
    expect(r.flatMap((x) => x.skipped.map((s) => s.reason))).toEqual([
      'line longer than 8 bytes',
      'a line with bytes other than printable ASCII',
    ]);
  });

  it('frames: Onity frames and control bytes come out in order; a bad LRC is skipped and said so', () => {
    const field = fc.stringMatching(/^[\x20-\x7e]{0,12}$/);
    const unit = fc.oneof(
      fc
        .record({
          command: fc.constantFrom('CN', 'CC', 'CO', 'LT', 'EX', 'CN2'),
          fields: fc.array(field, { maxLength: 12 }),
        })
        .map((frame): OnityUnit => ({ kind: 'frame', frame })),
      fc.constantFrom<OnityUnit>({ kind: 'enq' }, { kind: 'ack' }, { kind: 'nak' }),
    );
    const bytesOf = (u: OnityUnit) =>
      u.kind === 'frame'
        ? encodeOnityFrame(u.frame)
        : Buffer.from([u.kind === 'enq' ? 0x05 : u.kind === 'ack' ? 0x06 : 0x15]);
    fc.assert(
      fc.property(fc.array(fc.tuple(noise, unit), { maxLength: 8 }), cuts, (parts, at) => {
        const bytes = Buffer.concat(parts.flatMap(([n, u]) => [n, bytesOf(u)]));
        expect(feed(onityDecoder(), bytes, at).frames).toEqual(parts.map(([, u]) => u));
      }),
    );
    const d = onityDecoder();
    const frame = encodeOnityFrame({ command: 'CN', fields: ['1', 'E', '101'] });
    frame.writeUInt8((frame.at(-1) ?? 0) ^ 0xff, frame.length - 1);
    expect(d.push(frame).frames).toEqual([]);
    expect(d.lastBadLrc()).toBe(true);
  });

  it('frames: arbitrary bytes never throw, and no decoder holds more than a frame', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 40 }), (chunks) => {
        const ds = [hexFrameDecoder(5), lineDecoder(), onityDecoder()];
        for (const d of ds)
          for (const c of chunks) {
            d.push(c);
            expect(d.buffered()).toBeLessThanOrEqual(520);
          }
      }),
    );
  });
});
