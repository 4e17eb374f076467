/**
 * The Encoder port: a card encoder at the front desk, whatever its wire (serial line, Onity PMS frames,
 * HID). The desktop agent drives encoders only through this; each driver maps its device's answers to these
 * failures, so the agent (and the service behind it) sees one vocabulary.
 */
import type { WiegandFormatName } from './wiegand.ts';

export type EncoderFailure =
  /** No answer in time (a card never presented, a device that stopped answering). */
  | 'TIMEOUT'
  /** No card in the slot, for a read or an erase. */
  | 'NO_CARD'
  /** The card left the slot before the encoder finished. */
  | 'CARD_REMOVED'
  /** The encoder could not write the card (a bad card): another card may take it. */
  | 'WRITE_FAILED'
  /** The encoder is busy with another task. */
  | 'BUSY'
  /** The encoder is gone: unplugged, its port closed, its link down. */
  | 'OFFLINE'
  /** An answer that is not the protocol (garbage, truncated, out of order). */
  | 'PROTOCOL'
  /** The encoder refused the request for good (an unknown room, a bad format). */
  | 'REFUSED';

/** Whether a later attempt may succeed. */
export const retryableEncoderFailures: ReadonlySet<EncoderFailure> = new Set([
  'TIMEOUT',
  'NO_CARD',
  'CARD_REMOVED',
  'WRITE_FAILED',
  'BUSY',
  'OFFLINE',
  'PROTOCOL',
]);

export class EncoderError extends Error {
  override readonly name = 'EncoderError';
  constructor(
    readonly failure: EncoderFailure,
    message: string,
    /** The encoder says no card was written for this request (it never began, or it was called off). */
    readonly nothingWritten = false,
  ) {
    super(message);
  }
  get retryable(): boolean {
    return retryableEncoderFailures.has(this.failure);
  }
}

/** Card data in a Wiegand format: the bits a reader at the door will send. */
export interface WiegandData {
  format: WiegandFormatName;
  bits: string;
}

export interface EncodeRequest {
  /** The issuing operation: the same operation must never make two cards (drivers log it, never the data). */
  operationId: string;
  /** For data-on-card encoders (generic Wiegand): what the card carries. */
  data: WiegandData | null;
  /** For room-key encoders (Onity): the rooms and the stay. */
  rooms: string[];
  validFrom: string;
  validUntil: string;
}

export interface EncodedCard {
  /** The card's own serial number, as the encoder reports it. */
  uid: string;
  data: WiegandData | null;
}

export interface EncoderInfo {
  kind: 'line' | 'onity' | 'hid';
  model: string;
}

export interface Encoder {
  info(timeoutMs?: number): Promise<EncoderInfo>;
  /** Waits for a card (up to `timeoutMs`, card insertion included) and writes it. */
  encode(req: EncodeRequest, timeoutMs: number): Promise<EncodedCard>;
  /** The card in the slot, or NO_CARD. */
  read(timeoutMs: number): Promise<EncodedCard>;
  erase(timeoutMs: number): Promise<void>;
  /**
   * Calls off an operation's write, if the encoder can (after a crash: the agent does not know whether the
   * encoder still waits for a card for it). `written`: the card it wrote for it before, or null for nothing
   * written. Absent where the protocol has no such command.
   */
  cancel?(operationId: string, timeoutMs: number): Promise<{ written: { uid: string } | null }>;
  close(): Promise<void>;
}
