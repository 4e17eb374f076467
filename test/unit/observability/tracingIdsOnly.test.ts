/**
 * Without an exporter, spans are not recorded and only the trace ids flow: a hop inside a trace runs under
 * the span it was given (no ids drawn, no context entered), a hop with no trace starts one, and a hop told
 * to continue a kept `traceparent` runs in that trace whatever the active one is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activeTraceIds,
  contextFromTraceparent,
  inSpan,
  startTracing,
  traceparentOf,
  type Tracing,
} from '../../../src/observability/tracing.ts';

describe('tracing without an exporter', () => {
  let tracing: Tracing;
  beforeAll(async () => {
    tracing = await startTracing();
  });
  afterAll(() => tracing.shutdown());

  it('tracing: a hop with no trace starts one, and the hops inside it log the same trace', async () => {
    expect(tracing.exporting).toBe(false);
    const seen = await inSpan('root', {}, async (root) => {
      const outer = activeTraceIds();
      const inner = await inSpan('child', {}, async (child) => {
        expect(child.isRecording()).toBe(false);
        return { ids: activeTraceIds(), carried: child === root };
      });
      return { outer, inner };
    });
    expect(seen.outer?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(seen.outer?.trace_id).not.toBe('0'.repeat(32));
    expect(seen.inner.ids).toEqual(seen.outer);
    expect(seen.inner.carried).toBe(true);
    // Outside every span there is no trace to log.
    expect(activeTraceIds()).toBeUndefined();
  });

  it('tracing: two hops with no trace start two traces', async () => {
    const a = await inSpan('a', {}, async () => activeTraceIds()?.trace_id);
    const b = await inSpan('b', {}, async () => activeTraceIds()?.trace_id);
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(a).not.toBe(b);
  });

  it("tracing: a hop continuing a kept traceparent runs in that trace, not the active one's", async () => {
    const kept = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const seen = await inSpan('active', {}, async () => {
      const active = activeTraceIds()?.trace_id;
      const continued = await inSpan(
        'continued',
        {},
        async () => traceparentOf(),
        contextFromTraceparent(kept),
      );
      return { active, continued, after: activeTraceIds()?.trace_id };
    });
    expect(seen.continued).toBe(kept);
    expect(seen.active).not.toBe('0af7651916cd43dd8448eb211c80319c');
    expect(seen.after).toBe(seen.active);
  });
});
