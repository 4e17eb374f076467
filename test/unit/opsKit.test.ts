/**
 * The operator's kit in `ops/` held to the code: Prometheus's own `promtool` checks the rules and runs their
 * unit tests (Debian's `prometheus` package; `.ci/run` installs it), every alert names a runbook that exists and
 * says what the alert means and what to do, and every metric the rules and the dashboard read is one the
 * service exports (or a series the rules record).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.ts';

const rules = readFileSync('ops/prometheus/recording-rules.yml', 'utf8');
const alerts = readFileSync('ops/prometheus/alerts.yml', 'utf8');
const dashboard = readFileSync('ops/grafana/lock-integration.json', 'utf8');

describe('ops kit', () => {
  it('ops: promtool checks the rules and passes their unit tests', () => {
    const check = execFileSync(
      'promtool',
      ['check', 'rules', 'ops/prometheus/recording-rules.yml', 'ops/prometheus/alerts.yml'],
      { encoding: 'utf8' },
    );
    expect(check).toMatch(/SUCCESS: 8 rules found[\s\S]*SUCCESS: 8 rules found/);
    const test = execFileSync('promtool', ['test', 'rules', 'alerts.test.yml'], {
      cwd: 'ops/prometheus/tests',
      encoding: 'utf8',
    });
    expect(test).toContain('SUCCESS');
  });

  it('ops: every alert has a runbook that says what it means and what to do', () => {
    const names = [...alerts.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    const runbooks = [...alerts.matchAll(/runbook_url: (\S+)/g)].map((m) => m[1] as string);
    expect(runbooks).toHaveLength(names.length);
    for (const [i, file] of runbooks.entries()) {
      expect(existsSync(file), file).toBe(true);
      const text = readFileSync(file, 'utf8');
      expect(text).toContain(`# ${names[i]}`);
      expect(text).toMatch(/## What it means[\s\S]+## What to do/);
    }
  });

  it('ops: the rules and the dashboard read only metrics the service exports, or series the rules record', async () => {
    const exported = new Set<string>();
    for (const m of await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()) {
      exported.add(m.name);
      if (String(m.type) === 'histogram')
        for (const s of ['_bucket', '_count', '_sum']) exported.add(m.name + s);
    }
    const recorded = new Set([...rules.matchAll(/record: (\S+)/g)].map((m) => m[1]));
    const read = (text: string) => [...text.matchAll(/\b(lock[:_][a-z0-9_:]+)/g)].map((m) => m[1] as string);
    const unknown = [...read(rules), ...read(alerts), ...read(dashboard)].filter(
      (n) => !exported.has(n) && !recorded.has(n) && !n.startsWith('lock-'),
    );
    expect([...new Set(unknown)]).toEqual([]);
  });
});
