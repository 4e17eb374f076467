/**
 * A load generator's HTTP/1.1 client and nothing more: one keep-alive connection that writes a request
 * prepared in advance (bytes) and reads back the response's status, one at a time. No chunked bodies,
 * no redirects, no pooling. What it saves against undici is the client's own work per request (about
 * four fifths of it), which on a two-core machine is taken from the server under test — as wrk does.
 */
import { connect, type Socket } from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');

export class RawHttpConnection {
  private socket: Socket | null = null;
  private pending: { resolve: (status: number) => void } | null = null;
  private buffer: Buffer = Buffer.alloc(0);

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** The request's status, or 0 when the connection failed (it is opened again for the next one). */
  send(request: Buffer): Promise<number> {
    return new Promise((resolve) => {
      this.pending = { resolve };
      this.open().write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private open(): Socket {
    if (this.socket) return this.socket;
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    const fail = () => {
      // 'error' and 'close' both come; the second may come after the next request opened a new socket.
      if (this.socket !== socket) return;
      this.socket = null;
      this.buffer = Buffer.alloc(0);
      this.settle(0);
    };
    socket.on('error', fail);
    socket.on('close', fail);
    this.socket = socket;
    return socket;
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const end = this.buffer.indexOf(HEADER_END);
    if (end === -1) return;
    const head = this.buffer.subarray(0, end).toString('latin1');
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const total = end + HEADER_END.length + Number(length?.[1] ?? 0);
    if (this.buffer.length < total) return;
    this.buffer = this.buffer.subarray(total);
    // "HTTP/1.1 202 Accepted"
    this.settle(Number(head.slice(9, 12)));
  }

  private settle(status: number): void {
    const p = this.pending;
    this.pending = null;
    p?.resolve(status);
  }
}

/** The bytes of one HTTP/1.1 POST. */
export function rawPost(url: URL, headers: Record<string, string>, body: string): Buffer {
  const payload = Buffer.from(body);
  const lines = [`POST ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  lines.push(`content-length: ${payload.length}`, '', '');
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), payload]);
}
