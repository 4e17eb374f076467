/** Where the time went, from the service's own histograms: count, mean and sum per series. */
import type { Metrics } from '../src/metrics.ts';

export async function metricsProfile(metrics: Metrics) {
  const out: Record<string, { count: number; mean: number; sum: number }> = {};
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    if (String(m.type) !== 'histogram' || !m.name.startsWith('lock_')) continue;
    const groups = new Map<string, { count: number; sum: number }>();
    for (const v of m.values as { metricName?: string; value: number; labels: Record<string, unknown> }[]) {
      const { le: _le, ...labels } = v.labels;
      const key = `${m.name}${Object.keys(labels).length ? JSON.stringify(labels) : ''}`;
      const g = groups.get(key) ?? { count: 0, sum: 0 };
      if (v.metricName?.endsWith('_count')) g.count = v.value;
      if (v.metricName?.endsWith('_sum')) g.sum = v.value;
      groups.set(key, g);
    }
    for (const [k, g] of groups) {
      const scale = k.includes('seconds') ? 1000 : 1; // seconds → ms
      out[k.replace('_seconds', '_ms')] = {
        count: g.count,
        mean: Math.round((g.sum / Math.max(1, g.count)) * scale * 1000) / 1000,
        sum: Math.round(g.sum * scale),
      };
    }
  }
  return out;
}
