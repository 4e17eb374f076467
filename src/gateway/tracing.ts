/**
 * A server span per request, continuing a caller's `traceparent`: the actor messages the handler sends and
 * everything after them join it. The span is made the active context at `onRequest`; the rest of the request's
 * lifecycle (body, hooks, handler) runs on from there (the tracing test sends its request over a real socket,
 * on Node 20 and 24 alike).
 */
import { type Context, context, ROOT_CONTEXT, type Span, SpanKind, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { contextFromHttpHeaders, failSpan, tracer } from '../observability/tracing.ts';

const requestSpans = new WeakMap<FastifyRequest, { span: Span; ctx: Context; error?: Error }>();

/** Probes and scrapes are not operations worth a trace. */
const UNTRACED = /^\/(health|metrics)(\/|$)/;
/**
 * A vendor's webhook starts a trace of its own: a vendor is not a party to ours, and must not choose our
 * trace ids or force our sampling.
 */
const UNTRUSTED_PARENT = /^\/webhooks\//;

export function installRequestTracing(app: FastifyInstance): void {
  app.addHook('onRequest', (req, _reply, done) => {
    if (UNTRACED.test(req.url)) return done();
    const parent = UNTRUSTED_PARENT.test(req.url) ? ROOT_CONTEXT : contextFromHttpHeaders(req.headers);
    const route = req.routeOptions.url ?? 'unmatched';
    // The route, not the path: a path may carry a webhook endpoint's unguessable id.
    const span = tracer.startSpan(
      `${req.method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'http.route': route } },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    requestSpans.set(req, { span, ctx });
    context.with(ctx, done);
  });
  app.addHook('onError', (req, _reply, error, done) => {
    const s = requestSpans.get(req);
    if (s) s.error = error;
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const s = requestSpans.get(req);
    if (s) {
      s.span.setAttribute('http.response.status_code', reply.statusCode);
      // A 4xx is the caller's mistake, answered as it should be: only a 5xx marks the span failed.
      if (reply.statusCode >= 500) failSpan(s.span, s.error ?? new Error(`HTTP ${reply.statusCode}`));
      s.span.end();
    }
    done();
  });
  // The caller went away before the answer (during the wait budget, say): the span ends here, not never.
  app.addHook('onRequestAbort', (req, done) => {
    const s = requestSpans.get(req);
    if (s) {
      s.span.setAttribute('lock.aborted', true);
      s.span.end();
    }
    done();
  });
}

/** The request's trace context (its server span), for what is logged about it after the handler. */
export function traceContextOf(req: FastifyRequest): Context | undefined {
  return requestSpans.get(req)?.ctx;
}
