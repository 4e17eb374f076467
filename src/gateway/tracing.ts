/**
 * A server span per request, continuing a caller's `traceparent`: the actor messages the handler sends and
 * everything after them join it. The span becomes the active context twice: at `onRequest` (the auth hooks)
 * and again at `preHandler`, because the body is read from socket events that run in the connection's
 * context, not the request's, so the handler would otherwise lose it.
 */
import { type Context, context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { contextFromHttpHeaders, failSpan, tracer } from '../observability/tracing.ts';
import { pathOf } from './requestLog.ts';

const requestSpans = new WeakMap<FastifyRequest, { span: Span; ctx: Context }>();

/** Probes and scrapes are not operations worth a trace. */
const UNTRACED = /^\/(health|metrics)(\/|$)/;

export function installRequestTracing(app: FastifyInstance): void {
  app.addHook('onRequest', (req, _reply, done) => {
    if (UNTRACED.test(req.url)) return done();
    const parent = contextFromHttpHeaders(req.headers);
    const route = req.routeOptions.url ?? 'unmatched';
    const span = tracer.startSpan(
      `${req.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'http.route': route, 'url.path': pathOf(req) },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    requestSpans.set(req, { span, ctx });
    context.with(ctx, done);
  });
  app.addHook('preHandler', (req, _reply, done) => {
    const s = requestSpans.get(req);
    if (s) context.with(s.ctx, done);
    else done();
  });
  app.addHook('onError', (req, _reply, error, done) => {
    const s = requestSpans.get(req);
    if (s) failSpan(s.span, error);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const s = requestSpans.get(req);
    if (s) {
      s.span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) s.span.setStatus({ code: SpanStatusCode.ERROR });
      s.span.end();
    }
    done();
  });
}

/** The request's trace context (its server span), for what is logged about it after the handler. */
export function traceContextOf(req: FastifyRequest): Context | undefined {
  return requestSpans.get(req)?.ctx;
}
