/**
 * A generic line encoder on the far end of a link (a `socat` pty pair in tests, a virtual COM port by hand),
 * as strict as a device: one command at a time, a card must be in the slot to be written, a card taken out
 * mid-write is written to nothing, and a busy or silent device says nothing useful. It holds every card it
 * wrote, so a test can decode what the door will read.
 */
import { randomBytes } from 'node:crypto';
import { encodeLine, lineDecoder } from '../frames.ts';
import type { ByteLink } from '../link.ts';
import {
  bitsToHex,
  hexToBits,
  wiegandFormatNames,
  wiegandFormats,
  type WiegandFormatName,
} from '../wiegand.ts';

export interface SimCard {
  uid: string;
  format: WiegandFormatName | null;
  bits: string | null;
}

export interface LineEncoderSimFaults {
  /** Says nothing at all (a hung device). */
  silent: boolean;
  /** The card is pulled out mid-write: ERR REMOVED, nothing written. */
  removeMidEncode: boolean;
  busy: boolean;
  /** Answers every command with a line that is not the protocol. */
  garbage: boolean;
  /** The hopper is empty: no card comes by itself. */
  noCard: boolean;
}

export interface LineEncoderSimulator {
  /** A blank card put in the slot (by the clerk); its uid. */
  insertCard(): string;
  /** The card in the slot taken out; what it holds. */
  takeCard(): SimCard | null;
  setFaults(f: Partial<LineEncoderSimFaults>): void;
  state(): { slot: SimCard | null; written: (SimCard & { tag: string })[]; commands: string[] };
  close(): Promise<void>;
}

export function startLineEncoderSimulator(
  link: ByteLink,
  o: {
    model?: string;
    /** A hopper of blank cards: an ENC with an empty slot feeds one after `feedAfterMs` (else it waits). */
    autoFeed?: boolean;
    feedAfterMs?: number;
  } = {},
): LineEncoderSimulator {
  const decoder = lineDecoder({ maxLength: 200 });
  const faults: LineEncoderSimFaults = {
    silent: false,
    removeMidEncode: false,
    busy: false,
    garbage: false,
    noCard: false,
  };
  let slot: SimCard | null = null;
  const written: (SimCard & { tag: string })[] = [];
  const commands: string[] = [];
  /** An ENC waiting for a card. */
  let waiting: { tag: string; format: WiegandFormatName; bits: string } | null = null;
  let feedTimer: NodeJS.Timeout | null = null;

  const say = (line: string) => {
    if (!link.closed) void link.write(encodeLine(line)).catch(() => {});
  };
  const blank = (): SimCard => ({
    uid: randomBytes(4).toString('hex').toUpperCase(),
    format: null,
    bits: null,
  });

  function write(w: { tag: string; format: WiegandFormatName; bits: string }) {
    waiting = null;
    const card = slot;
    if (!card) return;
    if (faults.removeMidEncode) {
      slot = null;
      return say(`ERR REMOVED ${w.tag} the card left the slot while it was written`);
    }
    card.format = w.format;
    card.bits = w.bits;
    written.push({ ...card, tag: w.tag });
    say(`OK ${w.tag} ${card.uid}`);
  }

  function handle(line: string) {
    commands.push(line.split(' ')[0] ?? '');
    if (faults.silent) return;
    if (faults.garbage) return say('?? 0xDEADBEEF');
    const cancel = /^CANCEL ([0-9a-f]{12})$/.exec(line);
    if (cancel) {
      const tag = cancel[1] ?? '';
      if (waiting?.tag === tag) {
        waiting = null;
        if (feedTimer) clearTimeout(feedTimer);
      }
      const done = written.find((w) => w.tag === tag);
      return say(done ? `OK ${tag} ${done.uid}` : `OK ${tag}`);
    }
    const enc = /^ENC ([0-9a-f]{12}) (\S+) ([0-9A-F]+)$/.exec(line);
    // An ENC's errors name its tag; other commands' do not.
    const tagged = enc ? ` ${enc[1]}` : '';
    if (faults.busy || waiting) return say(`ERR BUSY${tagged} a task is running`);
    if (line === 'PING') return say(`PONG ${o.model ?? 'SIM-LINE-1'}`);
    if (enc) {
      const format = enc[2] ?? '';
      if (!(wiegandFormatNames as readonly string[]).includes(format))
        return say(`ERR FORMAT${tagged} unknown format ${format}`);
      const f = format as WiegandFormatName;
      let bits: string;
      try {
        bits = hexToBits(enc[3] ?? '', wiegandFormats[f].length);
      } catch {
        return say(`ERR FORMAT${tagged} the data does not fit the format`);
      }
      const w = { tag: enc[1] ?? '', format: f, bits };
      // A card written already sits in the slot: a new one is fed (the old goes to the tray).
      if (slot?.bits) slot = null;
      if (slot) return write(w);
      waiting = w;
      say(`WAIT ${w.tag}`);
      if (o.autoFeed && !faults.noCard)
        feedTimer = setTimeout(() => {
          slot = blank();
          if (waiting) write(waiting);
        }, o.feedAfterMs ?? 20);
      return;
    }
    if (line === 'READ') {
      if (!slot) return say('ERR NO_CARD the slot is empty');
      if (!slot.format || !slot.bits) return say('ERR FORMAT the card is blank');
      return say(`CARD ${slot.format} ${bitsToHex(slot.bits)} ${slot.uid}`);
    }
    if (line === 'ERASE') {
      if (!slot) return say('ERR NO_CARD the slot is empty');
      slot.format = null;
      slot.bits = null;
      return say(`OK ${slot.uid}`);
    }
    say('ERR FORMAT unknown command');
  }

  link.onData((chunk) => {
    for (const line of decoder.push(chunk).frames) handle(line);
  });

  return {
    insertCard() {
      slot = blank();
      if (waiting) write(waiting);
      return slot?.uid ?? '';
    },
    takeCard() {
      const c = slot;
      slot = null;
      return c;
    },
    setFaults: (f) => Object.assign(faults, f),
    state: () => ({
      slot: slot && { ...slot },
      written: written.map((w) => ({ ...w })),
      commands: [...commands],
    }),
    async close() {
      if (feedTimer) clearTimeout(feedTimer);
      await link.close();
    },
  };
}
