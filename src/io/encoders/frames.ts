/**
 * Byte framing of serial encoders and readers (`../shared/reference/vendors.md` §4.1, §4.3). Each decoder is
 * fed chunks as the port delivers them and answers the frames completed so far and the garbage it skipped,
 * with the reason: never throws, never waits for a frame that cannot come (it resynchronises at the next
 * start byte), and keeps at most one frame's worth of bytes.
 */

export const STX = 0x02;
export const ETX = 0x03;
export const ENQ = 0x05;
export const ACK = 0x06;
export const NAK = 0x15;
/** Onity's field separator. */
export const SEP = 0xb3;

export interface Skipped {
  reason: string;
  bytes: number;
}
export interface Decoded<F> {
  frames: F[];
  skipped: Skipped[];
}
export interface FrameDecoder<F> {
  push(chunk: Uint8Array): Decoded<F>;
  /** Bytes held for a frame not complete yet (bounded by one frame). */
  buffered(): number;
}

/** XOR of the bytes: the LRC and checksum of these protocols. */
export const xor = (bytes: Iterable<number>) => {
  let x = 0;
  for (const b of bytes) x ^= b;
  return x;
};

/**
 * Text lines ended by `terminator` (a generic ASCII encoder: `<command or answer>\r\n`). A line longer than
 * `maxLength` is dropped up to its end. Lines are printable ASCII; one with other bytes is refused.
 */
export function lineDecoder(o: { terminator?: string; maxLength?: number } = {}): FrameDecoder<string> {
  const end = Buffer.from(o.terminator ?? '\r\n', 'latin1');
  const max = o.maxLength ?? 256;
  let buf = Buffer.alloc(0);
  let discarding = false;
  return {
    buffered: () => buf.length,
    push(chunk) {
      const out: Decoded<string> = { frames: [], skipped: [] };
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const at = buf.indexOf(end);
        if (at < 0) {
          if (buf.length > max + end.length) {
            if (!discarding) out.skipped.push({ reason: `line longer than ${max} bytes`, bytes: buf.length });
            discarding = true;
            // Keep a possible partial terminator.
            buf = buf.subarray(buf.length - (end.length - 1));
          }
          return out;
        }
        const line = buf.subarray(0, at);
        buf = buf.subarray(at + end.length);
        if (discarding) {
          discarding = false;
          continue;
        }
        if (line.length > max)
          out.skipped.push({ reason: `line longer than ${max} bytes`, bytes: line.length });
        else if (!line.every((b) => b >= 0x20 && b < 0x7f))
          out.skipped.push({ reason: 'a line with bytes other than printable ASCII', bytes: line.length });
        else out.frames.push(line.toString('latin1'));
      }
    },
  };
}

export function encodeLine(text: string, terminator = '\r\n'): Buffer {
  if (!/^[\x20-\x7e]*$/.test(text)) throw new Error('a line is printable ASCII');
  return Buffer.from(`${text}${terminator}`, 'latin1');
}

/**
 * STX + ASCII-hex data + 2 ASCII-hex checksum (XOR of the data bytes) + ETX: 125 kHz readers (RDM6300) and
 * the generic frame encoders. `dataBytes`: how many data bytes a frame carries (5 for RDM6300).
 */
export function hexFrameDecoder(dataBytes: number): FrameDecoder<Buffer> {
  const size = 1 + dataBytes * 2 + 2 + 1;
  let buf = Buffer.alloc(0);
  return {
    buffered: () => buf.length,
    push(chunk) {
      const out: Decoded<Buffer> = { frames: [], skipped: [] };
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const start = buf.indexOf(STX);
        if (start < 0) {
          if (buf.length > 0) out.skipped.push({ reason: 'bytes outside a frame', bytes: buf.length });
          buf = Buffer.alloc(0);
          return out;
        }
        if (start > 0) {
          out.skipped.push({ reason: 'bytes outside a frame', bytes: start });
          buf = buf.subarray(start);
        }
        if (buf.length < size) return out;
        const frame = buf.subarray(0, size);
        const body = frame.subarray(1, size - 1).toString('latin1');
        const fail = (reason: string) => {
          // Not a frame: skip its STX only, a real frame may start inside it.
          out.skipped.push({ reason, bytes: 1 });
          buf = buf.subarray(1);
        };
        if (frame[size - 1] !== ETX) fail('no ETX where the frame ends');
        else if (!/^[0-9A-Fa-f]+$/.test(body)) fail('a frame with characters other than hexadecimal');
        else {
          const data = Buffer.from(body.slice(0, dataBytes * 2), 'hex');
          const sum = Number.parseInt(body.slice(dataBytes * 2), 16);
          if (xor(data) !== sum) fail('checksum mismatch');
          else {
            out.frames.push(data);
            buf = buf.subarray(size);
          }
        }
      }
    },
  };
}

export function encodeHexFrame(data: Uint8Array): Buffer {
  const hex = Buffer.from(data).toString('hex').toUpperCase();
  const sum = xor(data).toString(16).toUpperCase().padStart(2, '0');
  return Buffer.concat([Buffer.from([STX]), Buffer.from(`${hex}${sum}`, 'latin1'), Buffer.from([ETX])]);
}

/** An Onity PMS frame: a two-letter command (with an optional count digit) and its fields. */
export interface OnityFrame {
  command: string;
  fields: string[];
}

/** `STX SEP CMD SEP field … SEP ETX LRC`, LRC = XOR of every byte after STX through ETX. */
export function encodeOnityFrame(f: OnityFrame): Buffer {
  if (!/^[A-Z]{2}[1-9]?$/.test(f.command)) throw new Error(`not an Onity command: ${f.command}`);
  for (const field of f.fields)
    if (!/^[\x20-\x7e]*$/.test(field)) throw new Error('Onity fields are printable ASCII');
  const parts: number[] = [SEP, ...Buffer.from(f.command, 'latin1')];
  for (const field of f.fields) parts.push(SEP, ...Buffer.from(field, 'latin1'));
  parts.push(SEP, ETX);
  return Buffer.from([STX, ...parts, xor(parts)]);
}

/** What an Onity line carries: a frame, or one of the single control bytes. */
export type OnityUnit = { kind: 'frame'; frame: OnityFrame } | { kind: 'enq' | 'ack' | 'nak' };

/** Longest frame taken: CN with every field full stays well under it. */
const ONITY_MAX = 512;

/**
 * Onity's side of the line: ENQ, ACK, NAK bytes between frames, and frames whose LRC is checked. A frame
 * that fails its LRC is reported (`lrc`), so the receiver can answer NAK.
 */
export function onityDecoder(): FrameDecoder<OnityUnit> & { lastBadLrc(): boolean } {
  let buf = Buffer.alloc(0);
  let badLrc = false;
  return {
    buffered: () => buf.length,
    lastBadLrc: () => badLrc,
    push(chunk) {
      const out: Decoded<OnityUnit> = { frames: [], skipped: [] };
      buf = Buffer.concat([buf, chunk]);
      badLrc = false;
      for (;;) {
        if (buf.length === 0) return out;
        const b = buf[0] as number;
        if (b === ENQ || b === ACK || b === NAK) {
          out.frames.push({ kind: b === ENQ ? 'enq' : b === ACK ? 'ack' : 'nak' });
          buf = buf.subarray(1);
          continue;
        }
        if (b !== STX) {
          let n = 1;
          while (n < buf.length && ![STX, ENQ, ACK, NAK].includes(buf[n] as number)) n++;
          out.skipped.push({ reason: 'bytes outside a frame', bytes: n });
          buf = buf.subarray(n);
          continue;
        }
        const etx = buf.indexOf(ETX, 1);
        if (etx < 0 || etx + 1 >= buf.length) {
          if (buf.length > ONITY_MAX) {
            out.skipped.push({ reason: `a frame longer than ${ONITY_MAX} bytes`, bytes: 1 });
            buf = buf.subarray(1);
            continue;
          }
          return out;
        }
        const body = buf.subarray(1, etx + 1);
        const lrc = buf[etx + 1];
        // Not a frame: dropped through its LRC, unless another STX inside it may start a real one.
        const fail = (reason: string) => {
          const next = buf.indexOf(STX, 1);
          const drop = next > 0 && next < etx ? next : etx + 2;
          out.skipped.push({ reason, bytes: drop });
          buf = buf.subarray(drop);
        };
        if (xor(body) !== lrc) {
          badLrc = true;
          fail('LRC mismatch');
          continue;
        }
        const text = body.subarray(0, body.length - 1);
        if (text[0] !== SEP || text[text.length - 1] !== SEP) {
          fail('a frame without its separators');
          continue;
        }
        const parts = splitOn(text.subarray(1, text.length - 1), SEP).map((p) => p.toString('latin1'));
        const [command, ...fields] = parts;
        if (!command || !/^[A-Z]{2}[1-9]?$/.test(command) || !parts.every((p) => /^[\x20-\x7e]*$/.test(p))) {
          fail('a frame with no command, or bytes other than printable ASCII');
          continue;
        }
        out.frames.push({ kind: 'frame', frame: { command, fields } });
        buf = buf.subarray(etx + 2);
      }
    },
  };
}

function splitOn(b: Buffer, sep: number): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (let i = 0; i <= b.length; i++)
    if (i === b.length || b[i] === sep) {
      out.push(b.subarray(from, i));
      from = i + 1;
    }
  return out;
}
