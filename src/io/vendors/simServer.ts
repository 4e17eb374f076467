/**
 * The HTTP(S) server under every vendor simulator: the control routes (`/_sim/state|faults|reset|locks`),
 * the outage and latency faults, body reading and a clean close. A simulator supplies only its vendor's API.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as TlsServerOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** Faults every simulator understands; a vendor adds its own. */
export interface BaseFaults {
  latencyMs: number;
  /** Connections are dropped without an answer, as when the vendor's cloud is down. */
  outage: boolean;
}

export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The body as UTF-8; `rawBody` for vendors that speak another charset. */
  body: string;
  rawBody: Buffer;
  /** The TLS peer certificate's subject CN, when the server asked for one. */
  clientCertCn?: string;
}

export interface SimReply {
  status: number;
  /** JSON unless a string (then `contentType`, default text/plain). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  /** How a string body is written (default UTF-8). */
  encoding?: BufferEncoding;
}

export interface SimServerOptions<S, F extends BaseFaults> {
  port?: number;
  host?: string;
  /** HTTPS (with these options) instead of HTTP. */
  tls?: TlsServerOptions;
  initialFaults: F;
  /** Restores the vendor's seeded state (faults are restored by the server). */
  reset(): void;
  state(): S;
  /**
   * `POST /_sim/locks {"count": n}`: the simulator has at least `n` locks from now on, numbered as its seed
   * numbers them, and keeps that many through `reset()`; none is removed. Answers what the route answers.
   * Without it the route is not served.
   */
  setLocks?(count: number): unknown;
  handle(req: SimRequest, faults: F): SimReply | Promise<SimReply>;
}

/** What every vendor simulator offers its tests (a vendor adds its own switches). */
export interface VendorSimulator<S, F extends BaseFaults> {
  url: string;
  port: number;
  close(): Promise<void>;
  reset(): void;
  state(): S;
  setFaults(f: Partial<F>): void;
}

/** The running server: already the simulator's common surface, which each vendor extends. */
export type SimServer<S, F extends BaseFaults> = VendorSimulator<S, F>;

const MAX_BODY = 1_000_000;

/** The most locks `/_sim/locks` and `SIM_LOCKS` ask a simulator for. */
export const MAX_SIM_LOCKS = 100_000;

/** Whether a value is a lock count a simulator takes: an integer 1..MAX_SIM_LOCKS. */
export function isSimLockCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_SIM_LOCKS;
}

/** The count a `/_sim/locks` body asks for, or the 400 that says what is wrong with the body. */
export function requestedLockCount(body: string): number | SimReply {
  let count: unknown;
  try {
    count = (JSON.parse(body) as { count?: unknown } | null)?.count;
  } catch {
    count = undefined;
  }
  return isSimLockCount(count)
    ? count
    : { status: 400, body: { error: `body must be {"count": n}, n an integer 1..${MAX_SIM_LOCKS}` } };
}

/**
 * A simulator's seeded locks, for `reset()` and `setLocks`: lock `i` (0-based) is made by `seedOne(i)`, the
 * first `count` at each reset; `/_sim/locks` raises the count (never lowers it) and seeds the missing ones
 * at once, numbered on from those there (`existing()` locks). Answers the locks' references, in order.
 */
export function seededLocks(o: {
  count: number;
  existing: () => number;
  seedOne: (i: number) => void;
  refs: () => string[];
}) {
  let count = o.count;
  const seed = () => {
    for (let i = o.existing(); i < count; i++) o.seedOne(i);
  };
  return {
    seed,
    setLocks(n: number) {
      count = Math.max(count, n);
      seed();
      return { locks: o.refs() };
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, r: SimReply): void {
  const text = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  const contentType =
    r.contentType ?? (typeof r.body === 'string' || r.body === undefined ? 'text/plain' : 'application/json');
  res.writeHead(r.status, { 'content-type': contentType, ...r.headers });
  res.end(Buffer.from(text, r.encoding ?? 'utf8'));
}

export async function startSimServer<S, F extends BaseFaults>(
  o: SimServerOptions<S, F>,
): Promise<SimServer<S, F>> {
  let faults: F = { ...o.initialFaults };
  const sockets = new Set<Socket>();
  const reset = () => {
    o.reset();
    faults = { ...o.initialFaults };
  };
  reset();

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://sim');
      const rawBody = await readBody(req);
      const body = rawBody.toString('utf8');
      if (url.pathname.startsWith('/_sim/')) {
        if (url.pathname === '/_sim/state' && req.method === 'GET')
          return send(res, { status: 200, body: o.state() });
        if (url.pathname === '/_sim/reset' && req.method === 'POST') {
          reset();
          return send(res, { status: 200, body: { ok: true } });
        }
        if (url.pathname === '/_sim/faults' && req.method === 'POST') {
          faults = { ...faults, ...(JSON.parse(body || '{}') as Partial<F>) };
          return send(res, { status: 200, body: faults });
        }
        if (url.pathname === '/_sim/locks' && req.method === 'POST' && o.setLocks) {
          const count = requestedLockCount(body);
          if (typeof count !== 'number') return send(res, count);
          return send(res, { status: 200, body: o.setLocks(count) });
        }
        return send(res, { status: 404, body: { error: 'not found' } });
      }
      if (faults.outage) {
        req.socket.destroy();
        return;
      }
      if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
      const cn = req.socket instanceof TLSSocket ? req.socket.getPeerCertificate()?.subject?.CN : undefined;
      send(
        res,
        await o.handle(
          {
            method: req.method ?? 'GET',
            path: url.pathname,
            query: url.searchParams,
            headers: req.headers,
            body,
            rawBody,
            ...(typeof cn === 'string' ? { clientCertCn: cn } : {}),
          },
          faults,
        ),
      );
    } catch (e) {
      send(res, { status: 500, body: { error: `simulator error: ${(e as Error).message}` } });
    }
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => void onRequest(req, res);
  const server = o.tls ? createHttpsServer(o.tls, handler) : createHttpServer(handler);
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${o.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    state: o.state,
    setFaults: (f) => {
      faults = { ...faults, ...f };
    },
    reset,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
