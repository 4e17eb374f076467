/**
 * An Onity HT encoder behind its PMS protocol, on a serial link or as a TCP server (as networked encoders
 * are), as strict as the device: ENQ before a frame, a frame whose LRC is wrong is NAKed, one transaction at
 * a time (OV while busy), unknown rooms refused (TD), a card must be fed (ED when none comes in time). It
 * holds every card it wrote.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { ACK, NAK, encodeOnityFrame, type OnityFrame, onityDecoder } from '../frames.ts';
import { type ByteLink, socketLink } from '../link.ts';

export interface OnityCard {
  uid: string;
  rooms: string[];
  start: string;
  end: string;
  operator: string;
}

export interface OnitySimFaults {
  busy: boolean;
  /** The next answer goes out with a wrong LRC once (the host's NAK gets it again). */
  garbleNextAnswer: boolean;
  /** No card comes: after `cardWaitMs`, ED. */
  noCard: boolean;
  silent: boolean;
}

export interface OnitySimulator {
  /** The TCP port, when served over TCP. */
  port: number | null;
  setFaults(f: Partial<OnitySimFaults>): void;
  state(): { written: OnityCard[]; voided: string[]; nakked: number; transactions: number };
  /** Serves the protocol on one more link (a serial port). */
  attach(link: ByteLink): void;
  close(): Promise<void>;
}

export async function startOnitySimulator(
  o: { rooms?: string[]; tcp?: boolean; feedAfterMs?: number; cardWaitMs?: number } = {},
): Promise<OnitySimulator> {
  const rooms = new Set(o.rooms ?? ['101', '102', '103', '104', '201', '202']);
  const faults: OnitySimFaults = { busy: false, garbleNextAnswer: false, noCard: false, silent: false };
  const written: OnityCard[] = [];
  const voided: string[] = [];
  let nakked = 0;
  let transactions = 0;
  const links: ByteLink[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let last: OnityCard | null = null;

  function attach(link: ByteLink) {
    links.push(link);
    const decoder = onityDecoder();
    let open = false;
    let working = false;
    let lastAnswer: Buffer | null = null;
    const send = (b: Uint8Array) => {
      if (!link.closed) void link.write(b).catch(() => {});
    };
    const answer = (f: OnityFrame) => {
      const good = encodeOnityFrame(f);
      lastAnswer = good;
      working = false;
      if (faults.garbleNextAnswer) {
        faults.garbleNextAnswer = false;
        const bad = Buffer.from(good);
        bad.writeUInt8((bad.at(-1) ?? 0) ^ 0x5a, bad.length - 1);
        return send(bad);
      }
      send(good);
    };
    const later = (ms: number, f: () => void) => {
      const t = setTimeout(() => {
        timers.delete(t);
        f();
      }, ms);
      timers.add(t);
    };
    function frame(f: OnityFrame) {
      transactions++;
      working = true;
      const cmd = f.command.slice(0, 2);
      if (cmd === 'CN' || cmd === 'CC') {
        const [, , r1 = '', r2 = '', r3 = '', r4 = '', , , start = '', end = '', operator = ''] = f.fields;
        const cardRooms = [r1, r2, r3, r4].filter(Boolean);
        if (cardRooms.length === 0 || !cardRooms.every((r) => rooms.has(r)))
          return answer({ command: 'TD', fields: [] });
        if (![start, end].every((d) => /^\d{8}$/.test(d))) return answer({ command: 'EF', fields: [] });
        if (faults.noCard) return later(o.cardWaitMs ?? 200, () => answer({ command: 'ED', fields: [] }));
        return later(o.feedAfterMs ?? 10, () => {
          const card = {
            uid: randomBytes(4).toString('hex').toUpperCase(),
            rooms: cardRooms,
            start,
            end,
            operator,
          };
          if (cmd === 'CN')
            for (const r of cardRooms)
              voided.push(...written.filter((w) => w.rooms.includes(r)).map((w) => w.uid));
          written.push(card);
          last = card;
          answer({ command: f.command, fields: [card.uid] });
        });
      }
      if (cmd === 'LT') {
        if (!last) return answer({ command: 'LC', fields: [] });
        const r = [...last.rooms, '', '', '', ''].slice(0, 4);
        return answer({
          command: 'LT',
          fields: [...r, 'CI', '1', '', last.start, last.end, last.operator, last.uid],
        });
      }
      if (cmd === 'CO') {
        const room = f.fields[1] ?? '';
        voided.push(...written.filter((w) => w.rooms.includes(room)).map((w) => w.uid));
        return answer({ command: 'CO', fields: [] });
      }
      if (cmd === 'EX') return answer({ command: 'EX', fields: [] });
      answer({ command: 'ES', fields: [] });
    }
    link.onData((chunk) => {
      if (faults.silent) return;
      const r = decoder.push(chunk);
      if (decoder.lastBadLrc()) {
        nakked++;
        send(Uint8Array.of(NAK));
      }
      for (const u of r.frames) {
        if (u.kind === 'enq') {
          if (faults.busy || working) send(Uint8Array.of(NAK));
          else {
            open = true;
            send(Uint8Array.of(ACK));
          }
        } else if (u.kind === 'nak') {
          // The host could not read our answer: it goes again.
          if (lastAnswer) send(lastAnswer);
        } else if (u.kind === 'frame') {
          if (!open) continue; // A frame without ENQ first: ignored, as the device does.
          open = false;
          send(Uint8Array.of(ACK));
          frame(u.frame);
        }
      }
    });
  }

  let server: Server | null = null;
  let port: number | null = null;
  if (o.tcp) {
    server = createServer((socket) => attach(socketLink(socket)));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    port = typeof addr === 'object' && addr ? addr.port : null;
  }

  return {
    port,
    attach,
    setFaults: (f) => Object.assign(faults, f),
    state: () => ({ written: written.map((w) => ({ ...w })), voided: [...voided], nakked, transactions }),
    async close() {
      for (const t of timers) clearTimeout(t);
      await Promise.all(links.map((l) => l.close()));
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    },
  };
}
