/**
 * A serial port whose device hangs up (a USB encoder pulled out; here, socat killed) while no read is parked
 * on it: Linux then answers every read with 0 bytes, for ever, where `serialport`'s reader reads again, for
 * ever, and never says the port is gone. The link's port takes 0 bytes as the hang-up it is (the port is
 * opened with VMIN=1, so an empty read is never "no data yet") and closes as disconnected.
 */
import { afterEach, expect, it } from 'vitest';
import { openSerialPort } from '../../src/io/encoders/serialPort.ts';
import { type SerialPair, serialPair } from '../support/serialPair.ts';

let pair: SerialPair | undefined;
let port: Awaited<ReturnType<typeof openSerialPort>> | undefined;
afterEach(async () => {
  if (port?.isOpen) await new Promise((r) => port?.close(r));
  await pair?.close();
});

it('serial: a port hung up before its next read closes as disconnected', async () => {
  pair = await serialPair();
  const opened = await openSerialPort(pair.b);
  port = opened;
  // Nothing reads yet: the hang-up comes first, as it does when the reader is between two reads.
  await pair.unplug();
  const closed = new Promise<unknown>((resolve) => opened.once('close', resolve));
  opened.on('data', () => {});
  expect(await closed).toMatchObject({ disconnected: true });
});
