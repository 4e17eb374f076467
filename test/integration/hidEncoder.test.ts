/**
 * HID encoders: the line protocol carried in USB HID reports. This machine has no USB encoder, so the
 * device is a stand-in that delivers each report written on one side to the other (as the kernel's hidraw
 * would, report id stripped); the driver and the simulator on its two ends are the real ones. Also: node-hid
 * is loaded only when a HID encoder is opened, and a desk whose HID encoder is absent starts and says why.
 */
import { mkdtempSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import {
  fromReport,
  type HidDevice,
  hidLink,
  openHidLink,
  toReports,
} from '../../src/io/encoders/hidLink.ts';
import { lineEncoder } from '../../src/io/encoders/lineEncoder.ts';
import { EncoderError } from '../../src/io/encoders/port.ts';
import { startLineEncoderSimulator } from '../../src/io/encoders/simulators/lineEncoderSimulator.ts';
import { wiegandFormats } from '../../src/io/encoders/wiegand.ts';
import { deskConfig } from '../support/deskAgent.ts';

/** Two ends of a USB HID interface: a report written on one arrives at the other without its report id. */
function hidPair(reportSize: number): [HidDevice, HidDevice] {
  const end = (other: () => EventEmitter): HidDevice & EventEmitter => {
    const e = new EventEmitter() as EventEmitter & HidDevice;
    e.write = async (data) => {
      const bytes = Buffer.from(data as Buffer);
      if (bytes.length !== reportSize + 1) throw new Error(`a report is ${reportSize} bytes and its id`);
      setImmediate(() => other().emit('data', bytes.subarray(1)));
      return bytes.length;
    };
    e.close = async () => {};
    return e;
  };
  const a: HidDevice & EventEmitter = end(() => b);
  const b: HidDevice & EventEmitter = end(() => a);
  return [a, b];
}

describe('HID encoders', () => {
  let agent: RunningAgent | undefined;
  afterAll(async () => {
    await agent?.stop();
  });

  it('hid: any byte stream survives being cut into reports and put back together', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 8, max: 128 }), (bytes, size) => {
        const reports = toReports(bytes, size);
        expect(reports.every((r) => r.length === size)).toBe(true);
        expect(Buffer.concat(reports.map(fromReport))).toEqual(Buffer.from(bytes));
      }),
    );
    // A corrupt length byte yields what the report holds, never more.
    expect(fromReport(Buffer.from([200, 1, 2, 3]))).toEqual(Buffer.from([1, 2, 3]));
  });

  it('hid: the line encoder writes a card through 16-byte reports, and reads it back', async () => {
    const [host, device] = hidPair(16);
    const sim = startLineEncoderSimulator(hidLink(device, 16), { autoFeed: true });
    const encoder = lineEncoder(hidLink(host, 16));
    try {
      const info = await encoder.info(2000);
      expect(info.model).toEqual(expect.any(String));
      const bits = wiegandFormats.H10301.encode({ facilityCode: 5, cardNumber: 31_337 });
      const card = await encoder.encode(
        {
          operationId: 'op-hid-1',
          data: { format: 'H10301', bits },
          rooms: [],
          validFrom: '2026-12-01T14:00:00.000Z',
          validUntil: '2026-12-03T11:00:00.000Z',
        },
        3000,
      );
      expect(sim.state().written).toEqual([expect.objectContaining({ uid: card.uid, bits })]);
      const read = await encoder.read(2000);
      expect(read).toMatchObject({ uid: card.uid, data: { format: 'H10301', bits } });
    } finally {
      await encoder.close();
      await sim.close();
    }
  });

  it('hid: with no such device plugged in, opening is OFFLINE with the reason', async () => {
    const e = await openHidLink({ vendorId: 0xffff, productId: 0xfffe }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EncoderError);
    expect(e).toMatchObject({
      failure: 'OFFLINE',
      message: expect.stringMatching(/no USB HID device ffff:fffe|USB HID is not available here/),
    });
  });

  it('hid: a desk whose HID encoder is absent starts all the same and shows the encoder offline, with why', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lock-hid-'));
    const config = deskConfig({
      agentId: 'hid-desk',
      propertyId: 'p-hid',
      dir,
      subjectRoot: `hid${Date.now()}`,
    });
    agent = await startAgent({
      ...config,
      encoders: [{ id: 'usb-1', kind: 'hid', hid: { vendorId: 0xffff, productId: 0xfffe } }],
    });
    await expect.poll(() => agent?.store.getSnapshot().context.encoders['usb-1']?.lastError).toMatch(/HID/);
    expect(agent.store.getSnapshot().context.encoders['usb-1']?.online).toBe(false);
  });
});
