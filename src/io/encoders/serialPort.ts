/**
 * The serial port an encoder's link reads and writes: `serialport`'s stream over its native binding, with
 * one mend. When a device hangs up (a USB encoder pulled out, a pty whose other end died), Linux gives its
 * file the hung-up operations: every read returns 0 bytes at once. `serialport` reads again on 0 bytes, for
 * ever, so a hang-up that comes while no read is parked on the poller is never heard (and a libuv thread
 * spins). The port is opened with VMIN=1, so a read with nothing to give says EAGAIN, never 0: 0 bytes is
 * the hang-up, and is answered as one. Loaded only when a serial encoder is opened.
 */
import { read as fsRead } from 'node:fs';
import { promisify } from 'node:util';
import type {
  AutoDetectTypes,
  DarwinPortBinding,
  LinuxOpenOptions,
  LinuxPortBinding,
} from '@serialport/bindings-cpp';
import type { unixRead as unixReadOfBinding } from '@serialport/bindings-cpp/dist/unix-read.js';
import { EncoderError } from './port.ts';

const readAsync = promisify(fsRead);

/** A read of 0 bytes on a VMIN=1 tty: the device is gone. ENXIO is what `serialport` takes for a disconnect. */
async function readOrHangUp(fd: number, buffer: Buffer, offset: number, length: number, position: null) {
  const r = await readAsync(fd, buffer, offset, length, position);
  if (r.bytesRead === 0) throw Object.assign(new Error('the serial device hung up'), { code: 'ENXIO' });
  return r;
}

function hangUpAware(binding: AutoDetectTypes, unixRead: UnixRead): AutoDetectTypes {
  if (process.platform === 'win32') return binding;
  // Linux's and macOS's bindings both open to a port with an fd and a poller, which is all unixRead needs.
  const open = binding.open.bind(binding) as (o: UnixOpenOptions) => Promise<UnixPort>;
  return {
    ...binding,
    async open(options: UnixOpenOptions) {
      const port = await open(options);
      // unixRead refuses a closed port itself (as cancelled, which the stream ignores).
      port.read = (buffer, offset, length) =>
        unixRead({ binding: port, buffer, offset, length, fsReadAsync: readOrHangUp as typeof readAsync });
      return port;
    },
  } as AutoDetectTypes;
}

type UnixPort = LinuxPortBinding | DarwinPortBinding;
type UnixOpenOptions = LinuxOpenOptions;
type UnixRead = typeof unixReadOfBinding;

/** Loads serial support: its native binding loads only here. `unix-read.js` is internal (hence the exact pin). */
const loadSerial = () =>
  Promise.all([
    import('@serialport/stream'),
    import('@serialport/bindings-cpp'),
    import('@serialport/bindings-cpp/dist/unix-read.js'),
  ]).catch((e: unknown) => {
    throw new EncoderError('OFFLINE', `serial support could not be loaded: ${String(e).slice(0, 200)}`);
  });

/** Opens a serial port (8N1). OFFLINE when it cannot be opened (absent, in use, no permission). */
export async function openSerialPort(path: string, baudRate = 9600) {
  const [{ SerialPortStream }, { autoDetect }, { unixRead }] = await loadSerial();
  const binding = hangUpAware(autoDetect(), unixRead);
  return new Promise<InstanceType<typeof SerialPortStream>>((resolve, reject) => {
    const p = new SerialPortStream({ binding, path, baudRate, autoOpen: true }, (err) =>
      err ? reject(new EncoderError('OFFLINE', `serial ${path}: ${err.message}`)) : resolve(p),
    );
  });
}
