/**
 * BENCH_TRACE=timeline: every span of the service recorded in process, and the REST run's requests laid out
 * step by step (ms from the request's start to each step's start and end; steps named by span and
 * occurrence, `commit#2` the request's second group commit), for the median band of requests and for the
 * slowest 2%: where a slow request loses its time. It found the adapter-settings reads behind the slowest
 * vendor steps (`src/io/vendors/refreshingCache.ts`). Recording every span costs the service CPU: compare
 * its figures with each other, not with a run without it.
 */
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

interface Recorded {
  name: string;
  trace: string;
  start: number;
  end: number;
}

export type StepTimes = Record<string, { start: number; end: number }>;

const ms = (t: [number, number]) => t[0] * 1e3 + t[1] / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
const round = (x: number) => Math.round(x * 10) / 10;

export function timelineRecorder() {
  let spans: Recorded[] = [];
  const exporter: SpanExporter = {
    export(batch: ReadableSpan[], done) {
      for (const s of batch)
        spans.push({
          name: s.name,
          trace: s.spanContext().traceId,
          start: ms(s.startTime),
          end: ms(s.endTime),
        });
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: async () => {},
  };

  /** Each request's steps, in ms from its start, for the last `n` requests whose root span's name starts so. */
  function requests(rootPrefix: string, n: number): StepTimes[] {
    const byTrace = new Map<string, Recorded[]>();
    for (const s of spans) {
      const list = byTrace.get(s.trace) ?? [];
      list.push(s);
      byTrace.set(s.trace, list);
    }
    const out: { at: number; steps: StepTimes }[] = [];
    for (const list of byTrace.values()) {
      const roots = list.filter((s) => s.name.startsWith(rootPrefix));
      if (roots.length !== 1) continue;
      const root = roots[0]!;
      const seen = new Map<string, number>();
      const steps: StepTimes = { request: { start: 0, end: root.end - root.start } };
      for (const s of [...list].sort((a, b) => a.start - b.start)) {
        // Domain events' publishes go out after the answer; they are not the request's steps.
        if (s === root || s.name.startsWith('publish ')) continue;
        const k = (seen.get(s.name) ?? 0) + 1;
        seen.set(s.name, k);
        steps[`${s.name}#${k}`] = { start: s.start - root.start, end: s.end - root.start };
      }
      out.push({ at: root.start, steps });
    }
    return out
      .sort((a, b) => a.at - b.at)
      .slice(-n)
      .map((r) => r.steps);
  }

  /** The median of each step's start and end over a group of requests. */
  function summarize(group: StepTimes[]) {
    const names = new Set(group.flatMap((g) => Object.keys(g)));
    const out: Record<string, { start: number; end: number; requests: number }> = {};
    for (const name of names) {
      const present = group.flatMap((g) => (g[name] ? [g[name]] : []));
      out[name] = {
        start: round(median(present.map((p) => p.start))),
        end: round(median(present.map((p) => p.end))),
        requests: present.length,
      };
    }
    return Object.fromEntries(Object.entries(out).sort((a, b) => a[1].start - b[1].start));
  }

  return {
    exporter,
    /** The median 10% of the last `n` requests and their slowest 2%, step by step; then forgets them. */
    report(rootPrefix: string, n: number) {
      const all = requests(rootPrefix, n).sort((a, b) => a.request!.end - b.request!.end);
      spans = [];
      const mid = Math.floor(all.length / 2);
      const band = Math.max(1, Math.floor(all.length / 20));
      return {
        requests: all.length,
        medianBand: summarize(all.slice(mid - band, mid + band)),
        slowest2Percent: summarize(all.slice(-Math.max(1, Math.floor(all.length / 50)))),
      };
    },
  };
}
