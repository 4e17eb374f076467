/**
 * The Onity driver against its simulator, over TCP (networked encoders) and over a real serial pair: a guest
 * card for a room and a stay, dates in the property's wall clock; a garbled answer asked for again; a busy
 * encoder, an unknown room, no card in time and an encoder gone each end as their typed failure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSerialLink, openTcpLink } from '../../src/io/encoders/link.ts';
import { onityEncoder, onityTime } from '../../src/io/encoders/onityEncoder.ts';
import type { Encoder, EncodeRequest } from '../../src/io/encoders/port.ts';
import { type OnitySimulator, startOnitySimulator } from '../../src/io/encoders/simulators/onitySimulator.ts';
import { type SerialPair, serialPair } from '../support/serialPair.ts';

const stay = (rooms: string[]): EncodeRequest => ({
  operationId: 'op-1',
  data: null,
  rooms,
  validFrom: '2026-12-01T13:00:00.000Z',
  validUntil: '2026-12-03T10:00:00.000Z',
});

describe('onity encoder', () => {
  let sim: OnitySimulator | undefined;
  let encoder: Encoder | undefined;
  let pair: SerialPair | undefined;
  afterEach(async () => {
    await encoder?.close();
    await sim?.close();
    await pair?.close();
    [sim, encoder, pair] = [undefined, undefined, undefined];
  });

  const overTcp = async (o: Parameters<typeof startOnitySimulator>[0] = {}) => {
    sim = await startOnitySimulator({ tcp: true, ...o });
    encoder = onityEncoder(await openTcpLink('127.0.0.1', sim.port ?? 0), {
      timeZone: 'Europe/Berlin',
      ackTimeoutMs: 500,
    });
    return { sim, encoder };
  };

  it('onity: CN over TCP writes a card for the room and the stay, in the wall clock of the property', async () => {
    const { sim, encoder } = await overTcp();
    await expect(encoder.info()).resolves.toMatchObject({ kind: 'onity' });
    const card = await encoder.encode(stay(['101', '102']), 5000);
    expect(sim.state().written).toEqual([
      { uid: card.uid, rooms: ['101', '102'], start: '14011226', end: '11031226', operator: 'lock-agent' },
    ]);
    expect(onityTime('2026-07-01T13:00:00.000Z', 'Europe/Berlin')).toBe('15010726');
    // A second guest card for the room voids the first (CN is a new guest).
    await encoder.encode(stay(['101']), 5000);
    expect(sim.state().voided).toEqual([card.uid]);
    await expect(encoder.read(2000)).resolves.toMatchObject({ uid: sim.state().written[1]?.uid });
  });

  it('onity: a garbled answer is asked for again; busy, unknown room and no card fail with their reason', async () => {
    const { sim, encoder } = await overTcp({ cardWaitMs: 100 });
    sim.setFaults({ garbleNextAnswer: true });
    await expect(encoder.encode(stay(['101']), 5000)).resolves.toMatchObject({ uid: expect.any(String) });
    sim.setFaults({ busy: true });
    await expect(encoder.encode(stay(['101']), 5000)).rejects.toMatchObject({ failure: 'BUSY' });
    sim.setFaults({ busy: false });
    await expect(encoder.encode(stay(['999']), 5000)).rejects.toMatchObject({ failure: 'REFUSED' });
    sim.setFaults({ noCard: true });
    await expect(encoder.encode(stay(['101']), 5000)).rejects.toMatchObject({ failure: 'TIMEOUT' });
    sim.setFaults({ noCard: false, silent: true });
    await expect(encoder.encode(stay(['101']), 5000)).rejects.toMatchObject({ failure: 'TIMEOUT' });
    expect(sim.state().written).toHaveLength(1);
    await expect(encoder.encode(stay(['101', '102', '103', '104', '201']), 5000)).rejects.toMatchObject({
      failure: 'REFUSED',
    });
  });

  it('onity: over a real serial pair too; unplugged, it is OFFLINE', async () => {
    pair = await serialPair();
    sim = await startOnitySimulator();
    sim.attach(await openSerialLink(pair.a));
    encoder = onityEncoder(await openSerialLink(pair.b), { ackTimeoutMs: 500 });
    await expect(encoder.encode(stay(['201']), 5000)).resolves.toMatchObject({ uid: expect.any(String) });
    await pair.unplug();
    await expect(encoder.encode(stay(['201']), 5000)).rejects.toMatchObject({ failure: 'OFFLINE' });
  });
});
