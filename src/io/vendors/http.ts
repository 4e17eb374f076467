/**
 * The vendors' HTTP client: undici's `request` over one keep-alive pool per origin. Chosen over the
 * global `fetch` (also undici, under WHATWG streams) because the adapters' calls are the hottest
 * outbound path and `fetch` cost ~3× the CPU per call in the benchmark profile; mTLS options (Vostio)
 * go into the dispatcher's `connect` settings.
 */
import { SpanKind } from '@opentelemetry/api';
import { Agent, type Dispatcher, errors, request } from 'undici';
import { inSpan } from '../../observability/tracing.ts';
import { type EgressPolicy, guardedLookup, VENDOR_RESPONSE_LIMIT } from './egress.ts';
import { VendorError, type VendorFailure } from './port.ts';

export interface VendorResponse {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface VendorRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** How the answer's text is decoded (default UTF-8; SHIP speaks ISO-8859-1). */
  encoding?: BufferEncoding;
}

export function createVendorHttp(opts: {
  timeoutMs: number;
  connections?: number;
  connect?: Agent.Options['connect'];
  /** Live mode: connections only to public addresses (or the operator's allowed hosts). */
  egress?: EgressPolicy;
}) {
  const connect = {
    ...(opts.connect as object | undefined),
    ...(opts.egress ? { lookup: guardedLookup(opts.egress) } : {}),
  };
  const dispatcher: Dispatcher = new Agent({
    connections: opts.connections ?? 32,
    keepAliveTimeout: 30_000,
    connect,
  });
  async function call(what: string, url: string, init: VendorRequest): Promise<VendorResponse> {
    let res: Dispatcher.ResponseData;
    const deadline = AbortSignal.timeout(opts.timeoutMs * 2);
    try {
      const { encoding: _, ...sent } = init;
      res = await request(url, {
        ...sent,
        dispatcher,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
        // The two timeouts above measure idleness: a server trickling bytes would never trip them.
        signal: deadline,
      });
    } catch (e) {
      if (e instanceof errors.HeadersTimeoutError || e instanceof errors.BodyTimeoutError || deadline.aborted)
        throw new VendorError('TIMEOUT', `${what} timed out`);
      // The vendor's certificate failed verification (or a TLS alert arrived in the handshake): retrying
      // will not help. A client certificate refused under TLS 1.3 shows as the server's alert (AUTH), or,
      // when the server's reset overtakes the alert, only as a closed socket (OFFLINE).
      if (isTlsTrustFailure(e)) throw new VendorError('AUTH', `${what} TLS refused`, { cause: e });
      // The egress policy refused the address: configuration, not an outage.
      if (isEgressRefusal(e)) throw new VendorError('PERMISSION', `${what} egress refused`, { cause: e });
      throw new VendorError('OFFLINE', `${what} unreachable`, { cause: e });
    }
    let text: string;
    try {
      text = (await readCapped(res.body, VENDOR_RESPONSE_LIMIT)).toString(init.encoding ?? 'utf8');
    } catch (e) {
      if (e instanceof VendorError) throw e;
      if (deadline.aborted) throw new VendorError('TIMEOUT', `${what} timed out`);
      text = '';
    }
    let body: unknown = null;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { status: res.statusCode, body, headers: res.headers };
  }

  return {
    /** Sends and parses JSON; a timeout or connection failure is a retryable VendorError. */
    async send(what: string, url: string, init: VendorRequest): Promise<VendorResponse> {
      // A client span per call: host and path only (a query may carry a vendor's token). No trace header is
      // sent: vendor clouds are not part of the trace, and need not learn its ids.
      const u = URL.canParse(url) ? new URL(url) : null;
      return inSpan(
        `HTTP ${init.method}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'http.request.method': init.method,
            // An unparsable URL fails in the call, as before (OFFLINE); the span just names no host.
            ...(u ? { 'server.address': u.hostname, 'url.path': u.pathname } : {}),
            'lock.vendor.call': what,
          },
        },
        async (span) => {
          const r = await call(what, url, init);
          span.setAttribute('http.response.status_code', r.status);
          return r;
        },
      );
    },
    close: () => dispatcher.close(),
  };
}

export type VendorHttp = ReturnType<typeof createVendorHttp>;

/** Reads a body up to `limit` bytes; a larger answer is refused (INVALID), not buffered. */
async function readCapped(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new VendorError('INVALID', `vendor answer larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function isEgressRefusal(e: unknown): boolean {
  for (let c: unknown = e; c instanceof Error; c = c.cause)
    if ((c as { code?: unknown }).code === 'EGRESS_REFUSED') return true;
  return false;
}

function isTlsTrustFailure(e: unknown): boolean {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && /CERT|SSL|TLS|UNABLE_TO_VERIFY|DEPTH_ZERO/.test(code)) return true;
  }
  return false;
}

/**
 * The normalized failure of an HTTP status, for vendors that speak plain HTTP status codes (Salto KS,
 * Vostio); a vendor's own error codes refine it where the body says more.
 */
export function failureOfStatus(status: number): VendorFailure {
  if (status === 401) return 'AUTH';
  if (status === 403) return 'PERMISSION';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'DUPLICATE';
  if (status === 423) return 'BUSY';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 408 || status === 504) return 'TIMEOUT';
  if (status >= 500) return 'OFFLINE';
  return 'INVALID';
}

/** Retry-After (seconds or an HTTP date) in milliseconds, if the vendor sent one. */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}
