/**
 * OpenTelemetry tracing: one trace follows an operation across every hop — the REST request, the actor
 * message (W3C `traceparent` in the NATS headers), its transition and commit, the effects it journaled (the
 * trace context is kept in their rows), the vendor call, the outcome message and the domain event the relay
 * publishes.
 *
 * Trace context always flows (ids are made and propagated, and every log line written inside a span names
 * its trace), so a log line can be tied to an operation even with no collector. Spans are recorded and
 * exported only with an exporter: OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, or one a test passes.
 */
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export interface TracingOptions {
  serviceName?: string;
  serviceVersion?: string;
  /** OTLP/HTTP collector (`OTEL_EXPORTER_OTLP_ENDPOINT`): spans are exported there, in batches. */
  otlpEndpoint?: string | null;
  /** An exporter of the caller's (a test's, in memory): spans are handed to it one by one, as they end. */
  exporter?: SpanExporter;
  /** Hands the caller's exporter spans in batches, as the OTLP exporter gets them (the benchmark). */
  batch?: boolean;
  /** Share of new traces recorded when exporting (0..1, default 1); a caller's sampled trace is followed. */
  sampleRatio?: number;
}

export interface Tracing {
  /** True when spans are recorded and exported (an endpoint or an exporter was given). */
  readonly exporting: boolean;
  /** Exports what is pending. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Installs the process's tracer provider, the context manager (so the active span follows async work) and
 * the W3C propagator. Without an exporter, spans are not recorded: their ids still propagate and are logged.
 */
export async function startTracing(o: TracingOptions = {}): Promise<Tracing> {
  let exporter = o.exporter;
  if (!exporter && o.otlpEndpoint) {
    // Loaded only when a collector is configured: nothing else needs the OTLP client.
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    exporter = new OTLPTraceExporter({ url: `${o.otlpEndpoint.replace(/\/$/, '')}/v1/traces` });
  }
  recording = exporter !== undefined;
  const ratio = o.sampleRatio ?? 1;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: o.serviceName ?? 'lock-integration-service',
      ...(o.serviceVersion ? { [ATTR_SERVICE_VERSION]: o.serviceVersion } : {}),
    }),
    sampler: exporter
      ? new ParentBasedSampler({
          root: ratio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(ratio),
          // A caller's sampled flag is a request, not an order: the same share of its traces is kept.
          ...(ratio < 1 ? { remoteParentSampled: new TraceIdRatioBasedSampler(ratio) } : {}),
        })
      : new AlwaysOffSampler(),
    spanProcessors: exporter
      ? [o.exporter && !o.batch ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)]
      : [],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    exporting: exporter !== undefined,
    flush: () => provider.forceFlush(),
    async shutdown() {
      recording = false;
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The service's tracer; a no-op until `startTracing` installs a provider (tests that do not trace). */
export const tracer = trace.getTracer('lock-integration-service');

/** Whether spans are recorded (an exporter is installed); without, only the trace ids flow. */
let recording = false;

/** Header-like carriers: NATS headers (`MsgHdrs`) and plain objects. */
interface HeaderCarrier {
  get(k: string): string;
  set(k: string, v: string): void;
}

const natsGetter: TextMapGetter<HeaderCarrier | undefined> = {
  get: (c, k) => c?.get(k) || undefined,
  keys: () => ['traceparent', 'tracestate'],
};
const natsSetter: TextMapSetter<HeaderCarrier> = { set: (c, k, v) => c.set(k, v) };

const recordGetter: TextMapGetter<Record<string, string | string[] | undefined>> = {
  get: (c, k) => c[k],
  keys: (c) => Object.keys(c),
};

/** The trace context a NATS message carries (none: a new trace starts from it). */
export function contextFromHeaders(h: HeaderCarrier | undefined): Context {
  return h ? propagation.extract(ROOT_CONTEXT, h, natsGetter) : ROOT_CONTEXT;
}

/** The trace context of an HTTP request's headers (a caller's `traceparent`). */
export function contextFromHttpHeaders(h: Record<string, string | string[] | undefined>): Context {
  return propagation.extract(ROOT_CONTEXT, h, recordGetter);
}

/** Writes `ctx`'s trace into NATS headers; false when there is none to write. */
export function injectInto(h: HeaderCarrier, ctx: Context = context.active()): boolean {
  if (!trace.getSpan(ctx)?.spanContext().traceId) return false;
  propagation.inject(ctx, h, natsSetter);
  return true;
}

/** The `traceparent` of `ctx`'s span, to keep beside rows a later hop reads (outbox, effect intents). */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier, { set: (c, k, v) => (c[k] = v) });
  return carrier.traceparent;
}

/** The context a kept `traceparent` names (none kept: a new trace). */
export function contextFromTraceparent(traceparent: string | null | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }, recordGetter) : ROOT_CONTEXT;
}

/**
 * Runs `work` in a new span (child of `parent`, the active context by default), ending it when `work`
 * settles; an error marks the span and is rethrown. When spans are not recorded and `parent` has one, that
 * span stands for the new one: the trace id is all that flows and is logged, and a span of its own per hop
 * (ids drawn, a context entered) cost 9–23% of the service's CPU per credential in the event-driven run.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  work: (span: Span) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  if (!recording) {
    const carried = trace.getSpan(parent);
    // A recording span (a provider installed before this one, say) is someone else's to annotate and end.
    if (carried && !carried.isRecording())
      return parent === context.active() ? work(carried) : context.with(parent, () => work(carried));
  }
  const span = tracer.startSpan(name, options, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (e) {
    failSpan(span, e);
    throw e;
  } finally {
    span.end();
  }
}

/**
 * Marks a span failed with the error's class and code only: an error's message may carry a vendor's free text
 * (or worse), and spans may leave for an outside collector.
 */
export function failSpan(span: Span, e: unknown): void {
  if (!span.isRecording()) return;
  const name = e instanceof Error ? e.name : typeof e;
  const code =
    (e as { failure?: unknown; code?: unknown } | null)?.failure ?? (e as { code?: unknown })?.code;
  const label = typeof code === 'string' ? `${name} ${code}` : name;
  span.recordException({ name, message: label });
  span.setStatus({ code: SpanStatusCode.ERROR, message: label });
}

/** The active span's ids, for a log line (none outside a span). */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const c = trace.getSpan(context.active())?.spanContext();
  return c && c.traceId !== '00000000000000000000000000000000'
    ? { trace_id: c.traceId, span_id: c.spanId }
    : undefined;
}
