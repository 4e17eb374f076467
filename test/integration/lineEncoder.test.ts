/**
 * The generic line encoder driver against its simulator over a real serial pair (`socat`): a card written
 * holds the Wiegand bits of its card number; a card never presented times out; a card pulled out, a busy
 * encoder, garbage and an encoder unplugged mid-write each end as their typed failure, and the driver never
 * takes an answer to an earlier write for the current one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lineEncoder } from '../../src/io/encoders/lineEncoder.ts';
import { type ByteLink, openSerialLink } from '../../src/io/encoders/link.ts';
import type { Encoder, EncodeRequest } from '../../src/io/encoders/port.ts';
import {
  type LineEncoderSimulator,
  startLineEncoderSimulator,
} from '../../src/io/encoders/simulators/lineEncoderSimulator.ts';
import { wiegandFormats } from '../../src/io/encoders/wiegand.ts';
import { type SerialPair, serialPair } from '../support/serialPair.ts';

const request = (operationId: string, cardNumber: number): EncodeRequest => ({
  operationId,
  data: { format: 'H10301', bits: wiegandFormats.H10301.encode({ facilityCode: 42, cardNumber }) },
  rooms: ['101'],
  validFrom: '2026-12-01T14:00:00.000Z',
  validUntil: '2026-12-03T11:00:00.000Z',
});

describe('line encoder over a serial pair', () => {
  let pair: SerialPair;
  let simLink: ByteLink;
  let sim: LineEncoderSimulator;
  let encoder: Encoder;

  async function start(o: { autoFeed?: boolean } = {}) {
    pair = await serialPair();
    simLink = await openSerialLink(pair.a);
    sim = startLineEncoderSimulator(simLink, { autoFeed: o.autoFeed ?? true });
    encoder = lineEncoder(await openSerialLink(pair.b));
  }
  beforeEach(() => start());
  afterEach(async () => {
    await encoder?.close();
    await sim?.close();
    await pair?.close();
  });

  it('line encoder: a card is written with the Wiegand bits of its number, and reads back the same', async () => {
    expect(await encoder.info()).toEqual({ kind: 'line', model: 'SIM-LINE-1' });
    const card = await encoder.encode(request('op-1', 4242), 5000);
    const written = sim.state().written;
    expect(written).toHaveLength(1);
    expect(written[0]?.uid).toBe(card.uid);
    expect(wiegandFormats.H10301.decode(written[0]?.bits ?? '')).toEqual({
      facilityCode: 42,
      cardNumber: 4242,
    });
    expect(await encoder.read(2000)).toEqual(card);
  });

  it('line encoder: no card presented is a TIMEOUT and the write is called off: a card given later gets nothing', async () => {
    await encoder.close();
    await sim.close();
    await pair.close();
    await start({ autoFeed: false });
    await expect(encoder.encode(request('op-late', 1), 300)).rejects.toMatchObject({
      failure: 'TIMEOUT',
      nothingWritten: true,
    });
    // The clerk puts the card in after all: nothing is written on it for the operation called off...
    sim.insertCard();
    expect(sim.state().written).toEqual([]);
    // ...and the next write takes it.
    await expect(encoder.encode(request('op-next', 2), 5000)).resolves.toMatchObject({
      uid: expect.any(String),
    });
    expect(sim.state().written.map((w) => wiegandFormats.H10301.decode(w.bits ?? '').cardNumber)).toEqual([
      2,
    ]);
  });

  it('line encoder: a hung encoder is a TIMEOUT that cannot say whether it wrote', async () => {
    sim.setFaults({ silent: true });
    await expect(encoder.encode(request('op-hung', 1), 300)).rejects.toMatchObject({
      failure: 'TIMEOUT',
      nothingWritten: false,
    });
  });

  it('line encoder: a card pulled out, a busy encoder and garbage each fail with their reason', async () => {
    sim.setFaults({ removeMidEncode: true });
    await expect(encoder.encode(request('op-r', 1), 2000)).rejects.toMatchObject({ failure: 'CARD_REMOVED' });
    sim.setFaults({ removeMidEncode: false, busy: true });
    await expect(encoder.encode(request('op-b', 1), 2000)).rejects.toMatchObject({ failure: 'BUSY' });
    sim.setFaults({ busy: false, garbage: true });
    await expect(encoder.encode(request('op-g', 1), 2000)).rejects.toMatchObject({ failure: 'PROTOCOL' });
    sim.setFaults({ garbage: false });
    await expect(encoder.encode(request('op-ok', 1), 2000)).resolves.toMatchObject({
      uid: expect.any(String),
    });
    expect(sim.state().written).toHaveLength(1);
  });

  it('line encoder: unplugged mid-write, the write fails OFFLINE and so does every later call', async () => {
    await encoder.close();
    await sim.close();
    await pair.close();
    await start({ autoFeed: false });
    // Its failure is taken as it comes (it may come before unplug() returns).
    const pending = encoder.encode(request('op-u', 1), 10_000).catch((e: unknown) => e);
    await expect.poll(() => sim.state().commands).toContain('ENC');
    await pair.unplug();
    expect(await pending).toMatchObject({ failure: 'OFFLINE' });
    await expect(encoder.info()).rejects.toMatchObject({ failure: 'OFFLINE' });
  });
});
