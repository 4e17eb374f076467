/**
 * The generic ASCII line encoder: commands and answers are text lines ending in CR LF, one command at a time.
 *
 *   host: PING                         device: PONG <model>
 *   host: ENC <tag> <FORMAT> <HEX>     device: WAIT <tag> (while no card is in the slot; any number), then
 *                                              OK <tag> <UID> | ERR <CODE> <tag> <text>
 *   host: READ                         device: CARD <FORMAT> <HEX> <UID> | ERR NO_CARD <text>
 *   host: ERASE                        device: OK <UID> | ERR <CODE> <text>
 *   host: CANCEL <tag>                 device: OK <tag> (the ENC waiting for a card is called off; nothing was
 *                                              written) | OK <tag> <UID> (too late: it was written just now)
 *
 * ERR codes: NO_CARD, REMOVED (the card left mid-write), BUSY, WRITE (the write failed), FORMAT (refused).
 * `tag` is a digest of the operation id: it lets a device log what it did without anything of the guest, and
 * an answer to an earlier ENC (one that timed out here, then got its card) is told apart and skipped.
 * Anything else from the device while a command runs fails that command as PROTOCOL; what arrives with no
 * command running is skipped. No answer within the command's time: TIMEOUT; the link gone: OFFLINE.
 */
import { createHash } from 'node:crypto';
import { encodeLine, lineDecoder } from './frames.ts';
import type { ByteLink } from './link.ts';
import {
  type EncodedCard,
  type EncodeRequest,
  type Encoder,
  EncoderError,
  type EncoderFailure,
  type EncoderInfo,
} from './port.ts';
import {
  bitsToHex,
  hexToBits,
  wiegandFormatNames,
  wiegandFormats,
  type WiegandFormatName,
} from './wiegand.ts';

/** What a line means to the command waiting for it. */
type Verdict<T> = { more: true } | { done: T } | { fail: EncoderError };

interface Pending {
  line: string;
  timeoutMs: number;
  answer(line: string): Verdict<unknown>;
  resolve(v: unknown): void;
  reject(e: EncoderError): void;
}

const ERR_CODES: Record<string, EncoderFailure> = {
  NO_CARD: 'NO_CARD',
  REMOVED: 'CARD_REMOVED',
  BUSY: 'BUSY',
  WRITE: 'WRITE_FAILED',
  FORMAT: 'REFUSED',
};

export const operationTag = (operationId: string) =>
  createHash('sha256').update(operationId).digest('hex').slice(0, 12);

const errorOf = (line: string): EncoderError | null => {
  const m = /^ERR ([A-Z_]+)(?: (.*))?$/.exec(line);
  if (!m) return null;
  const code = m[1] ?? '';
  // The device said why it wrote nothing; an answer it does not know says nothing of the card.
  const failure = ERR_CODES[code];
  return new EncoderError(
    failure ?? 'PROTOCOL',
    `encoder: ${code} ${(m[2] ?? '').slice(0, 120)}`.trim(),
    !!failure,
  );
};

const isFormat = (s: string): s is WiegandFormatName => (wiegandFormatNames as readonly string[]).includes(s);

export function lineEncoder(link: ByteLink, o: { log?: (msg: string) => void } = {}): Encoder {
  const decoder = lineDecoder({ maxLength: 200 });
  const queue: Pending[] = [];
  let current: { p: Pending; timer: NodeJS.Timeout } | null = null;

  const finish = (outcome: { done: unknown } | { fail: EncoderError }) => {
    if (!current) return;
    clearTimeout(current.timer);
    const { p } = current;
    current = null;
    if ('done' in outcome) p.resolve(outcome.done);
    else p.reject(outcome.fail);
    next();
  };
  const next = () => {
    if (current || queue.length === 0) return;
    const p = queue.shift() as Pending;
    if (link.closed) return p.reject(new EncoderError('OFFLINE', 'the encoder link is closed'));
    current = {
      p,
      timer: setTimeout(
        () =>
          finish({
            fail: new EncoderError('TIMEOUT', `no answer to ${p.line.split(' ')[0]} in ${p.timeoutMs} ms`),
          }),
        p.timeoutMs,
      ),
    };
    link
      .write(encodeLine(p.line))
      .catch((e: unknown) =>
        finish({ fail: e instanceof EncoderError ? e : new EncoderError('OFFLINE', String(e)) }),
      );
  };
  link.onData((chunk) => {
    const { frames, skipped } = decoder.push(chunk);
    for (const s of skipped) o.log?.(`encoder line skipped: ${s.reason}`);
    for (const line of frames) {
      if (!current) {
        o.log?.('encoder line with no command running: skipped');
        continue;
      }
      const v = current.p.answer(line);
      if ('more' in v) continue;
      finish(v);
    }
  });
  link.onClose((why) => {
    finish({ fail: new EncoderError('OFFLINE', `the encoder went away: ${why}`) });
    for (const p of queue.splice(0)) p.reject(new EncoderError('OFFLINE', `the encoder went away: ${why}`));
  });

  /** `first`: ahead of anything queued (a CANCEL must reach the device before another command does). */
  function command<T>(
    line: string,
    timeoutMs: number,
    answer: (line: string) => Verdict<T>,
    first = false,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const p = { line, timeoutMs, answer, resolve: resolve as (v: unknown) => void, reject };
      if (first) queue.unshift(p);
      else queue.push(p);
      next();
    });
  }
  const protocol = (what: string, line: string): { fail: EncoderError } => ({
    fail: new EncoderError('PROTOCOL', `${what}: unexpected answer ${JSON.stringify(line.slice(0, 60))}`),
  });
  const cardOf = (format: string, hex: string, uid: string): EncodedCard | null => {
    if (!isFormat(format)) return null;
    try {
      const bits = hexToBits(hex, wiegandFormats[format].length);
      return { uid, data: { format, bits } };
    } catch {
      return null;
    }
  };

  /** `CANCEL <tag>`: `OK <tag>` (nothing written) or `OK <tag> <UID>` (written before). */
  function cancel(tag: string, timeoutMs: number): Promise<{ written: { uid: string } | null }> {
    return command<{ written: { uid: string } | null }>(
      `CANCEL ${tag}`,
      timeoutMs,
      (line) => {
        const m = /^OK ([0-9a-f]{12})(?: ([0-9A-Fa-f]{4,32}))?$/.exec(line);
        if (m && m[1] === tag) return { done: { written: m[2] ? { uid: m[2].toUpperCase() } : null } };
        return { more: true };
      },
      true,
    );
  }

  function write(
    tag: string,
    data: NonNullable<EncodeRequest['data']>,
    hex: string,
    timeoutMs: number,
  ): Promise<EncodedCard> {
    return command<EncodedCard>(`ENC ${tag} ${data.format} ${hex}`, timeoutMs, (line) => {
      const m = /^(WAIT|OK) ([0-9a-f]{12})(?: ([0-9A-Fa-f]{4,32}))?$/.exec(line);
      const e = /^ERR ([A-Z_]+) ([0-9a-f]{12})(?: (.*))?$/.exec(line);
      const about = m?.[2] ?? e?.[2];
      // An answer to an earlier ENC (one that timed out here), or an error of no ENC: not this write's.
      if ((about && about !== tag) || (!about && line.startsWith('ERR '))) {
        o.log?.('encoder answer to another command: skipped');
        return { more: true };
      }
      if (m?.[1] === 'WAIT') return { more: true };
      if (m?.[1] === 'OK' && m[3]) return { done: { uid: m[3].toUpperCase(), data } };
      const err = e ? errorOf(`ERR ${e[1]} ${e[3] ?? ''}`) : null;
      return err ? { fail: err } : protocol('ENC', line);
    });
  }

  return {
    info: (timeoutMs = 2000) =>
      command<EncoderInfo>('PING', timeoutMs, (line) => {
        const m = /^PONG (.{1,64})$/.exec(line);
        return m ? { done: { kind: 'line', model: m[1] ?? '' } } : protocol('PING', line);
      }),

    async encode(req, timeoutMs) {
      const data = req.data;
      if (!data) throw new EncoderError('REFUSED', 'a line encoder writes Wiegand data');
      const hex = bitsToHex(data.bits);
      const tag = operationTag(req.operationId);
      try {
        return await write(tag, data, hex, timeoutMs);
      } catch (e) {
        if (!(e instanceof EncoderError) || e.failure !== 'TIMEOUT') throw e;
        // No card came in time: the write is called off, so a card presented later is not written for it.
        const called = await cancel(tag, 2000).catch(() => undefined);
        if (called?.written) return { uid: called.written.uid, data };
        throw new EncoderError('TIMEOUT', e.message, called?.written === null);
      }
    },

    cancel: (operationId, timeoutMs) => cancel(operationTag(operationId), timeoutMs),

    read: (timeoutMs) =>
      command<EncodedCard>('READ', timeoutMs, (line) => {
        const m = /^CARD (\S+) ([0-9A-Fa-f]+) ([0-9A-Fa-f]{4,32})$/.exec(line);
        if (m) {
          const card = cardOf(m[1] ?? '', m[2] ?? '', (m[3] ?? '').toUpperCase());
          return card ? { done: card } : protocol('READ', line);
        }
        const err = errorOf(line);
        return err ? { fail: err } : protocol('READ', line);
      }),

    erase: (timeoutMs) =>
      command<void>('ERASE', timeoutMs, (line) => {
        if (/^OK [0-9A-Fa-f]{4,32}$/.test(line)) return { done: undefined };
        const err = errorOf(line);
        return err ? { fail: err } : protocol('ERASE', line);
      }),

    close: () => link.close(),
  };
}
