/**
 * Onity HT22/HT24/HT28 PMS protocol (`../shared/reference/vendors.md` §4.1; batiati/Onity): over RS-232 or
 * TCP (port 6669). A transaction: ENQ → ACK (else the encoder is busy); the frame → ACK (NAK: checksum, sent
 * again, up to 3 times); then the answer frame, acknowledged with ACK (NAK asks for it again).
 *
 * Encode is CN (check-in, new guest: voids the room's earlier guest cards): encoder number, ejection, room
 * 1–4, authorizations granted and denied, start and end (`HHddMMyy`, the property's wall clock), operator,
 * tracks 1 and 2; the answer's first field is the card's UID. Read is LT. Error answers name the reason.
 */
import { type OnityFrame, type OnityUnit, ACK, ENQ, NAK, encodeOnityFrame, onityDecoder } from './frames.ts';
import type { ByteLink } from './link.ts';
import {
  type EncodedCard,
  type Encoder,
  EncoderError,
  type EncoderFailure,
  type EncoderInfo,
} from './port.ts';

/** Onity's error answers (`ErrorCode.cs`): what each means here. */
const ONITY_ERRORS: Record<string, [EncoderFailure, string]> = {
  ES: ['PROTOCOL', 'syntax error'],
  NC: ['OFFLINE', 'the encoder does not answer the lock server'],
  NF: ['REFUSED', 'PC files missing'],
  OV: ['BUSY', 'busy with a previous task'],
  EP: ['WRITE_FAILED', 'magnetic track error'],
  EF: ['REFUSED', 'format error'],
  EN: ['WRITE_FAILED', 'low level'],
  ET: ['CARD_REMOVED', 'card stuck'],
  TD: ['REFUSED', 'unknown room'],
  ED: ['TIMEOUT', 'no card in time'],
  EA: ['REFUSED', 'single-opening cards exhausted'],
  OS: ['REFUSED', 'room out of service'],
};

/** `HHddMMyy` in the property's wall clock (Onity encoders know no zones). */
export function onityTime(iso: string, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      day: '2-digit',
      month: '2-digit',
      year: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.hour}${parts.day}${parts.month}${parts.year}`;
}

export interface OnityOptions {
  /** The encoder's number at the lock server. */
  encoderNumber?: string;
  /** The property's time zone: Onity dates are wall-clock. */
  timeZone?: string;
  operator?: string;
  /** How long the encoder has to acknowledge (the protocol's 2 s). */
  ackTimeoutMs?: number;
  log?: (msg: string) => void;
}

export function onityEncoder(link: ByteLink, o: OnityOptions = {}): Encoder {
  const decoder = onityDecoder();
  const ackMs = o.ackTimeoutMs ?? 2000;
  const units: OnityUnit[] = [];
  let waiter: {
    resolve: (u: OnityUnit) => void;
    reject: (e: EncoderError) => void;
    timer: NodeJS.Timeout;
  } | null = null;
  let gone: string | null = null;
  let chain: Promise<unknown> = Promise.resolve();

  link.onData((chunk) => {
    const r = decoder.push(chunk);
    for (const s of r.skipped) o.log?.(`onity bytes skipped: ${s.reason}`);
    if (decoder.lastBadLrc()) units.push({ kind: 'nak' });
    units.push(...r.frames);
    deliver();
  });
  link.onClose((why) => {
    gone = why;
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.reject(new EncoderError('OFFLINE', `the encoder went away: ${why}`));
      waiter = null;
    }
  });
  function deliver() {
    if (!waiter || units.length === 0) return;
    const w = waiter;
    waiter = null;
    clearTimeout(w.timer);
    w.resolve(units.shift() as OnityUnit);
  }
  /** The next unit from the encoder within `ms`; TIMEOUT otherwise (`what` says what was awaited). */
  function nextUnit(ms: number, what: string): Promise<OnityUnit> {
    if (gone) return Promise.reject(new EncoderError('OFFLINE', `the encoder went away: ${gone}`));
    return new Promise((resolve, reject) => {
      waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          waiter = null;
          reject(new EncoderError('TIMEOUT', `no ${what} from the encoder in ${ms} ms`));
        }, ms),
      };
      deliver();
    });
  }
  const send = (bytes: Uint8Array) => link.write(bytes);

  /** One transaction; transactions never overlap. */
  function transaction(frame: OnityFrame, answerMs: number): Promise<OnityFrame> {
    const run = async (): Promise<OnityFrame> => {
      units.length = 0;
      await send(Uint8Array.of(ENQ));
      const hello = await nextUnit(ackMs, 'ACK to ENQ');
      if (hello.kind !== 'ack')
        throw new EncoderError('BUSY', 'the encoder did not accept a transaction (busy)');
      const bytes = encodeOnityFrame(frame);
      for (let attempt = 1; ; attempt++) {
        await send(bytes);
        const ack = await nextUnit(ackMs, 'ACK to the frame');
        if (ack.kind === 'ack') break;
        if (ack.kind !== 'nak' || attempt >= 3)
          throw new EncoderError('PROTOCOL', `the encoder did not take the frame (${ack.kind})`);
      }
      for (let attempt = 1; ; attempt++) {
        const answer = await nextUnit(answerMs, 'answer');
        if (answer.kind === 'frame') {
          await send(Uint8Array.of(ACK));
          return answer.frame;
        }
        if (answer.kind !== 'nak' || attempt >= 3)
          throw new EncoderError('PROTOCOL', `expected an answer frame, got ${answer.kind}`);
        // A garbled answer (bad LRC): asked for again.
        await send(Uint8Array.of(NAK));
      }
    };
    const result = chain.then(run, run);
    chain = result.catch(() => undefined);
    return result;
  }

  const failed = (f: OnityFrame): EncoderError | null => {
    const known = ONITY_ERRORS[f.command.slice(0, 2)];
    // An error answer means the encoder gave the request up: no card was made for it.
    return known ? new EncoderError(known[0], `onity ${f.command.slice(0, 2)}: ${known[1]}`, true) : null;
  };

  return {
    async info(timeoutMs = 2000) {
      // An ENQ the encoder acknowledges, then an EOT-free cancel (EX) so the transaction is not left open.
      const f = await transaction({ command: 'EX', fields: [o.encoderNumber ?? '1'] }, timeoutMs);
      const err = failed(f);
      if (err && err.failure !== 'TIMEOUT') throw err;
      return { kind: 'onity', model: 'Onity HT (PMS protocol)' } satisfies EncoderInfo;
    },

    async encode(req, timeoutMs) {
      if (req.rooms.length < 1 || req.rooms.length > 4)
        throw new EncoderError('REFUSED', 'an Onity guest card opens 1 to 4 rooms');
      const tz = o.timeZone ?? 'UTC';
      const rooms = [...req.rooms, '', '', '', ''].slice(0, 4);
      const f = await transaction(
        {
          command: 'CN',
          fields: [
            o.encoderNumber ?? '1',
            'E',
            ...rooms,
            '',
            '',
            onityTime(req.validFrom, tz),
            onityTime(req.validUntil, tz),
            (o.operator ?? 'lock-agent').slice(0, 20),
            '',
            '',
          ],
        },
        timeoutMs,
      );
      const err = failed(f);
      if (err) throw err;
      const uid = f.fields[0] ?? '';
      if (f.command !== 'CN' || !/^[0-9A-Fa-f]{4,32}$/.test(uid))
        throw new EncoderError('PROTOCOL', `onity: unexpected answer ${f.command}`);
      return { uid: uid.toUpperCase(), data: null } satisfies EncodedCard;
    },

    async read(timeoutMs) {
      const f = await transaction({ command: 'LT', fields: [o.encoderNumber ?? '1'] }, timeoutMs);
      const err = failed(f);
      if (err) throw err;
      if (f.command === 'LC' || f.command === 'LD') throw new EncoderError('NO_CARD', 'onity: no guest card');
      const uid = f.fields.at(-1) ?? '';
      if (f.command !== 'LT' || !/^[0-9A-Fa-f]{4,32}$/.test(uid))
        throw new EncoderError('PROTOCOL', `onity: unexpected answer ${f.command}`);
      return { uid: uid.toUpperCase(), data: null };
    },

    async erase() {
      throw new EncoderError('REFUSED', 'Onity voids cards by room (CO at check-out), not one by one');
    },

    close: () => link.close(),
  };
}
