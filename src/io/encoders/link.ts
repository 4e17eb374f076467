/**
 * A byte link to an encoder: a serial port (`serialPort.ts`, loaded only when a serial encoder is opened, so the
 * service and the agent start without it) or a TCP socket (Onity's networked encoders). A link that closes
 * or errors is gone for good: its reader hears `onClose`, and the driver fails what is in flight as OFFLINE.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { EncoderError } from './port.ts';
import { openSerialPort } from './serialPort.ts';

export interface ByteLink {
  write(bytes: Uint8Array): Promise<void>;
  onData(listener: (chunk: Buffer) => void): void;
  onClose(listener: (why: string) => void): void;
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface Emitter {
  on(event: 'data', f: (b: Buffer) => void): unknown;
  on(event: 'close' | 'error', f: (e?: Error) => void): unknown;
}

/** How long a write (or a close) may take before the link is taken for gone. */
const WRITE_TIMEOUT_MS = 3000;

export function linkOver(
  e: Emitter,
  write: (b: Uint8Array, done: (err?: Error | null) => void) => void,
  end: () => Promise<void>,
): ByteLink {
  const dataListeners: ((b: Buffer) => void)[] = [];
  const closeListeners: ((why: string) => void)[] = [];
  let closed = false;
  const gone = (why: string) => {
    if (closed) return;
    closed = true;
    for (const f of closeListeners) f(why);
  };
  e.on('data', (b: Buffer) => {
    for (const f of dataListeners) f(b);
  });
  e.on('close', () => gone('the link closed'));
  e.on('error', (err?: Error) => gone(err?.message ?? 'link error'));
  return {
    get closed() {
      return closed;
    },
    write: (bytes) =>
      new Promise((resolve, reject) => {
        if (closed) return reject(new EncoderError('OFFLINE', 'the encoder link is closed'));
        // A port whose device is gone may never finish a write (a pty whose other end died): after a while
        // the link is taken for gone, so nothing waits on it for ever.
        const timer = setTimeout(() => {
          gone('a write did not finish');
          reject(new EncoderError('OFFLINE', 'the encoder link stopped taking data'));
        }, WRITE_TIMEOUT_MS);
        write(bytes, (err) => {
          clearTimeout(timer);
          if (err) reject(new EncoderError('OFFLINE', err.message));
          else resolve();
        });
      }),
    onData: (f) => void dataListeners.push(f),
    onClose: (f) => void closeListeners.push(f),
    close: async () => {
      // Closing a port whose device is gone may never finish either.
      if (!closed)
        await Promise.race([end().catch(() => {}), new Promise((r) => setTimeout(r, WRITE_TIMEOUT_MS))]);
      gone('closed by us');
    },
  };
}

/** Opens a serial port (8N1) as a link. OFFLINE when it cannot be opened (absent, in use, no permission). */
export async function openSerialLink(path: string, baudRate = 9600): Promise<ByteLink> {
  const port = await openSerialPort(path, baudRate);
  return linkOver(
    port as unknown as Emitter,
    (b, done) => {
      port.write(Buffer.from(b), (err) => {
        if (err) return done(err);
        port.drain(done);
      });
    },
    () => new Promise<void>((resolve) => port.close(() => resolve())),
  );
}

/** A connected socket as a link (an encoder on the network, or a simulator's side of one). */
export function socketLink(socket: Socket): ByteLink {
  socket.setNoDelay(true);
  return linkOver(
    socket as unknown as Emitter,
    (b, done) => socket.write(b, done),
    () =>
      new Promise<void>((resolve) => {
        socket.end(() => resolve());
        socket.destroy();
      }),
  );
}

/** Connects to an encoder on the network. OFFLINE when it does not answer within `timeoutMs`. */
export async function openTcpLink(host: string, port: number, timeoutMs = 5000): Promise<ByteLink> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new EncoderError('OFFLINE', `${host}:${port} did not answer`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(new EncoderError('OFFLINE', `${host}:${port}: ${e.message}`));
    });
  });
  return socketLink(socket);
}
