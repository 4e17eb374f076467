/**
 * The vendors' HTTP client: undici's `request` over one keep-alive pool per origin. Chosen over the
 * global `fetch` (also undici, under WHATWG streams) because the adapters' calls are the hottest
 * outbound path and `fetch` cost ~3× the CPU per call in the benchmark profile; mTLS options (Vostio)
 * go into the dispatcher's `connect` settings.
 */
import { Agent, type Dispatcher, errors, request } from 'undici';
import { VendorError } from './port.ts';

export interface VendorResponse {
  status: number;
  body: unknown;
}

export function createVendorHttp(opts: {
  timeoutMs: number;
  connections?: number;
  connect?: Agent.Options['connect'];
}) {
  const dispatcher: Dispatcher = new Agent({
    connections: opts.connections ?? 32,
    keepAliveTimeout: 30_000,
    ...(opts.connect ? { connect: opts.connect } : {}),
  });
  return {
    /** Sends and parses JSON; a timeout or connection failure is a retryable VendorError. */
    async send(
      what: string,
      url: string,
      init: {
        method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
        headers?: Record<string, string>;
        body?: string;
      },
    ): Promise<VendorResponse> {
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          ...init,
          dispatcher,
          headersTimeout: opts.timeoutMs,
          bodyTimeout: opts.timeoutMs,
        });
      } catch (e) {
        if (e instanceof errors.HeadersTimeoutError || e instanceof errors.BodyTimeoutError)
          throw new VendorError('TIMEOUT', `${what} timed out`);
        throw new VendorError('OFFLINE', `${what} unreachable`, { cause: e });
      }
      const text = await res.body.text().catch(() => '');
      let body: unknown = null;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      return { status: res.statusCode, body };
    },
    close: () => dispatcher.close(),
  };
}

export type VendorHttp = ReturnType<typeof createVendorHttp>;
