/**
 * One log line per request, written when the response is sent, in place of Fastify's two (incoming,
 * completed). Fastify's own lines carry the raw URL, and TTLock's callback URL carries its secret token
 * in the query: this line names the path only. Webhooks that were accepted are logged at debug: vendors
 * send thousands per second, and `lock_webhooks_total` counts them; a refused webhook is logged at info.
 */
import { context } from '@opentelemetry/api';
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { traceContextOf } from './tracing.ts';

/** The path without the query string: queries may carry secrets (TTLock's `?token=`). */
export function pathOf(req: FastifyRequest): string {
  const q = req.url.indexOf('?');
  return q === -1 ? req.url : req.url.slice(0, q);
}

const VERBOSE = new Set(['debug', 'trace']);

export class RequestLog extends LogController {
  override incomingRequest(): void {}

  /** The completed line below says 404 with the path. */
  override routeNotFound(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const webhookAccepted =
      !error && status < 300 && req.routeOptions.url === '/webhooks/v1/:vendor/:webhookId';
    // Checked before the line is built: at info, an accepted webhook costs nothing here.
    if (webhookAccepted && !VERBOSE.has(req.log.level)) return;
    const line = {
      method: req.method,
      path: pathOf(req),
      status,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    // Written once the response has gone, outside the handler's context: the request's trace is named again.
    context.with(traceContextOf(req) ?? context.active(), () => {
      if (error) req.log.error({ ...line, err: error }, 'request failed');
      else req.log[webhookAccepted ? 'debug' : 'info'](line, 'request');
    });
  }
}
