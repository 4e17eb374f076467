/**
 * One issuance is one trace: the caller's `traceparent` on the REST request is continued through the actor
 * message (NATS header), the credential's transition and commit, the vendor call its effect makes (the
 * simulator's HTTP), the outcome message and the `issued` event the relay publishes from the outbox row. Spans
 * are caught by an in-memory exporter; the request's log line names the same trace. No PIN in any span.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { startTracing, type Tracing } from '../../src/observability/tracing.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let url: string;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });

  beforeAll(async () => {
    tracing = await startTracing({ exporter });
    h = await startHarness();
    gw = await buildTestGateway(h, { waitBudgetMs: 5000, logger: createLogger('info', sink) });
    url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
    await tracing?.shutdown();
  });

  const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

  it('tracing: one issuance through REST is one trace, from the request to the issued event', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' });
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    // Over a real socket: the body arrives on socket events, outside the request's context (inject would not
    // show a handler that lost its trace).
    const res = await fetch(`${url}/api/v1/key-credentials`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await gw.token(tenantId)}`,
        'idempotency-key': randomUUID(),
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${callerSpan}-01`,
      },
      body: JSON.stringify({
        propertyId,
        holder: { kind: 'guest', ref: 'guest-1' },
        kind: 'pin',
        rooms: ['101'],
        validFrom: new Date(Date.now() - 3_600_000).toISOString(),
        validUntil: new Date(Date.now() + 86_400_000).toISOString(),
      }),
    });
    const body = await res.text();
    expect(res.status, body).toBe(201);
    const pin = (JSON.parse(body) as { pin?: string }).pin ?? '';
    expect(pin).toMatch(/^\d{4,}$/);

    const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const issuedPublish = await expect
      .poll(() => inTrace().find((s) => s.name.endsWith('.key_credential.issued.v1')), { timeout: 10_000 })
      .toBeDefined()
      .then(() => inTrace().find((s) => s.name.endsWith('.key_credential.issued.v1')));
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));

    // The request's span is the caller's child; every other span hangs off a span of the same trace.
    const server = spans.find((s) => s.name === 'POST /api/v1/key-credentials');
    expect(server).toBeDefined();
    expect(parentOf(server as ReadableSpan)).toBe(callerSpan);
    for (const s of spans) if (s !== server) expect(byId.has(parentOf(s) ?? ''), s.name).toBe(true);

    // The issued event's ancestry, nearest first: the hops the issuance took, in order.
    const chain: string[] = [];
    for (let s = issuedPublish; s; s = byId.get(parentOf(s) ?? '')) chain.push(s.name);
    const hops = [
      'process credential', // the vendor's answer applied, the event committed to the outbox
      'send credential', // the answer sent to the credential's inbox
      'effect issueGrant', // the journaled vendor call
      'process credential', // the issue request applied
      'send credential', // the REST handler's message
      'POST /api/v1/key-credentials',
    ];
    let at = 0;
    for (const name of chain) if (name === hops[at]) at++;
    expect(chain.join(' <- ')).toContain('POST /api/v1/key-credentials');
    expect(at, `hops ${hops.join(' <- ')} in ${chain.join(' <- ')}`).toBe(hops.length);

    // The vendor call and its HTTP request (the TTLock simulator), and the transitions' commits.
    const vendor = spans.find((s) => s.name === 'vendor ttlock issueGrant');
    expect(vendor).toBeDefined();
    expect(byId.get(parentOf(vendor as ReadableSpan) ?? '')?.name).toBe('effect issueGrant');
    const http = spans.filter((s) => s.name.startsWith('HTTP ') && s.attributes['http.response.status_code']);
    expect(http.length).toBeGreaterThan(0);
    expect(spans.filter((s) => s.name === 'commit').length).toBeGreaterThanOrEqual(2);
    expect(spans.filter((s) => s.name === 'transition').length).toBeGreaterThanOrEqual(2);

    // Nothing secret in a span: not the PIN, not the bearer token.
    const text = JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events]));
    expect(text).not.toContain(pin);
    expect(text).not.toMatch(/Bearer /);

    // The request's log line names the trace.
    const line = lines.find((l) => l.msg === 'request' && l.path === '/api/v1/key-credentials');
    expect(line?.trace_id).toBe(traceId);
  });

  it('tracing: a request without a traceparent starts a trace of its own', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '102': '7002' });
    exporter.reset();
    const res = await gw.issuePin(tenantId, propertyId, { rooms: ['102'] });
    expect(res.statusCode, res.body).toBe(201);
    await expect
      .poll(() => exporter.getFinishedSpans().find((s) => s.name.endsWith('.key_credential.issued.v1')), {
        timeout: 10_000,
      })
      .toBeDefined();
    const server = exporter.getFinishedSpans().find((s) => s.name === 'POST /api/v1/key-credentials');
    const published = exporter.getFinishedSpans().find((s) => s.name.endsWith('.key_credential.issued.v1'));
    expect(server?.parentSpanContext).toBeUndefined();
    expect(published?.spanContext().traceId).toBe(server?.spanContext().traceId);
  });

  it('tracing: a failed vendor call marks its span with the failure code only, never the vendor text', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '103': '7003' });
    exporter.reset();
    // TTLock's "request too frequently" (errcode 30006): retried, then issued once the limit lifts.
    h.ttlock.setFaults({ rateLimited: true });
    let failed: ReadableSpan | undefined;
    let answered: ReturnType<typeof gw.issuePin> | undefined;
    try {
      answered = gw.issuePin(tenantId, propertyId, { rooms: ['103'] });
      await expect
        .poll(
          () =>
            (failed = exporter
              .getFinishedSpans()
              .find((s) => s.name === 'vendor ttlock issueGrant' && s.status.code === SpanStatusCode.ERROR)),
          { timeout: 10_000 },
        )
        .toBeDefined();
    } finally {
      h.ttlock.setFaults({ rateLimited: false });
    }
    expect((await answered)?.statusCode).toBeLessThan(300);
    expect(failed?.status.message).toMatch(/^\w+ RATE_LIMITED$/);
    const text = JSON.stringify(
      exporter.getFinishedSpans().map((s) => [s.name, s.attributes, s.events, s.status]),
    );
    expect(text).not.toMatch(/frequently/i);
  });

  it("tracing: a vendor's webhook starts a trace of its own, whatever traceparent it sends", async () => {
    exporter.reset();
    const traceId = randomBytes(16).toString('hex');
    const res = await gw.app.inject({
      method: 'POST',
      url: '/webhooks/v1/ttlock/not-an-endpoint',
      headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      payload: {},
    });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    const server = exporter.getFinishedSpans().find((s) => s.name === 'POST /webhooks/v1/:vendor/:webhookId');
    expect(server).toBeDefined();
    expect(server?.spanContext().traceId).not.toBe(traceId);
    expect(server?.parentSpanContext).toBeUndefined();
    // A refusal is the caller's mistake: not a failed span.
    expect(server?.status.code).not.toBe(SpanStatusCode.ERROR);
  });
});
