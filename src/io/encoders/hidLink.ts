/**
 * A byte link over USB HID reports: encoders that speak their line protocol through a vendor-defined HID
 * interface instead of a virtual COM port (`reference/vendors.md` §4.3, "vendor protocol over USB-HID"). Each
 * report carries a length byte and up to `reportSize − 1` bytes of the stream, zero-padded; the bytes are
 * the same as over serial, so the line encoder's driver runs over it unchanged.
 *
 * `node-hid` is loaded only when a HID encoder is opened: it needs `libusb-1.0` (Debian `libusb-1.0-0`), and
 * the agent and the service start without it — an encoder that cannot be opened is OFFLINE with the reason.
 */
import { EventEmitter } from 'node:events';
import type * as NodeHidModule from 'node-hid';
import { type ByteLink, type Emitter, linkOver } from './link.ts';
import { EncoderError } from './port.ts';

/** The part of node-hid's `HIDAsync` a link uses (a test gives a device stand-in of its own). */
export interface HidDevice {
  write(data: number[] | Buffer): Promise<number>;
  on(event: 'data', f: (report: Buffer) => void): unknown;
  on(event: 'error', f: (e: Error) => void): unknown;
  close(): Promise<void>;
}

export interface HidSelector {
  vendorId: number;
  productId: number;
  /** The device's path when several of one model are plugged in. */
  path?: string;
  /** The interface's report size in bytes (64 for full-speed devices). */
  reportSize?: number;
}

/** A stream's bytes cut into reports: `[length, …bytes, 0…]`, each `reportSize` long. */
export function toReports(bytes: Uint8Array, reportSize = 64): Buffer[] {
  const room = reportSize - 1;
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += room) {
    const part = bytes.subarray(at, at + room);
    const r = Buffer.alloc(reportSize);
    r[0] = part.length;
    r.set(part, 1);
    out.push(r);
  }
  return out;
}

/** A report's bytes; a length byte past the report (a corrupt report) yields what the report holds. */
export function fromReport(report: Buffer): Buffer {
  const n = Math.min(report[0] ?? 0, report.length - 1);
  return report.subarray(1, 1 + n);
}

/** A HID device as a byte link. Writes go out report by report (report id 0: the interface numbers none). */
export function hidLink(device: HidDevice, reportSize = 64): ByteLink {
  const events = new EventEmitter();
  // Closed once, whichever comes first: an error (the device unplugged) or the link's own close.
  let closing: Promise<void> | null = null;
  const closeDevice = () => (closing ??= device.close().catch(() => {}));
  device.on('data', (report) => {
    const bytes = fromReport(report);
    if (bytes.length) events.emit('data', bytes);
  });
  // A device gone (unplugged) is closed here too, so its handle is freed and it can be opened again.
  device.on('error', (e) => {
    events.emit('error', e);
    void closeDevice();
  });
  return linkOver(
    events as Emitter,
    (b, done) => {
      void (async () => {
        for (const r of toReports(b, reportSize)) await device.write(Buffer.concat([Buffer.from([0]), r]));
      })().then(
        () => done(),
        (e: unknown) => done(e instanceof Error ? e : new Error(String(e))),
      );
    },
    async () => {
      await closeDevice();
      events.emit('close');
    },
  );
}

/** Opens the first HID device matching the selector. OFFLINE when node-hid cannot load or there is none. */
export async function openHidLink(sel: HidSelector): Promise<ByteLink> {
  const id = `${hex(sel.vendorId)}:${hex(sel.productId)}`;
  let hid: NodeHid;
  try {
    const m = (await import('node-hid')) as NodeHid & { default?: NodeHid };
    hid = m.default ?? m;
  } catch (e) {
    throw new EncoderError('OFFLINE', `USB HID is not available here (node-hid: ${(e as Error).message})`);
  }
  let path: string | undefined;
  try {
    const found = (await hid.devicesAsync(sel.vendorId, sel.productId)).filter(
      (d) => d.path && (!sel.path || d.path === sel.path),
    );
    path = found[0]?.path;
  } catch (e) {
    throw new EncoderError(
      'OFFLINE',
      `USB HID is not available here (node-hid: ${(e as Error).message}; Debian: libusb-1.0-0)`,
    );
  }
  if (!path) throw new EncoderError('OFFLINE', `no USB HID device ${id} is plugged in`);
  try {
    const device = await hid.HIDAsync.open(path);
    return hidLink(device as unknown as HidDevice, sel.reportSize);
  } catch (e) {
    throw new EncoderError('OFFLINE', `HID ${id}: ${(e as Error).message}`);
  }
}

type NodeHid = typeof NodeHidModule;
const hex = (n: number) => n.toString(16).padStart(4, '0');
