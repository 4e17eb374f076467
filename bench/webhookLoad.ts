/**
 * Closed-loop webhook load in its own process: C clients, N Svix-signed Seam events in all, each with
 * its own message id. Prints one JSON line. Usage: webhookLoad.ts <baseUrl> <whsec_secret> <n> <c>
 */
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';

const [base, secret, nArg, cArg] = process.argv.slice(2);
if (!base || !secret) throw new Error('usage: webhookLoad.ts base secret n c');
const n = Number(nArg ?? 20000);
const c = Number(cArg ?? 64);
const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
const agent = new http.Agent({ keepAlive: true, maxSockets: c });
const url = new URL('/webhooks/v1/seam', base);

function post(i: number): Promise<number> {
  const id = `msg_${randomUUID()}`;
  const body = JSON.stringify({
    event_id: randomUUID(),
    event_type: 'lock.unlocked',
    device_id: `device_${i % 500}`,
    occurred_at: new Date().toISOString(),
  });
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'webhook-id': id,
          'webhook-timestamp': ts,
          'webhook-signature': `v1,${sig}`,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const latencies: number[] = [];
const statuses: Record<string, number> = {};
let next = 0;
const t0 = performance.now();
async function client() {
  while (next < n) {
    const i = next++;
    const t = performance.now();
    const status = await post(i).catch(() => 0);
    latencies.push(performance.now() - t);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
}
await Promise.all(Array.from({ length: c }, client));
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const p = (q: number) =>
  Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 100) / 100;
const acknowledged = (statuses['202'] ?? 0) + (statuses['200'] ?? 0);
console.log(
  JSON.stringify({
    n,
    c,
    seconds: Math.round(seconds * 100) / 100,
    perSecond: Math.round(acknowledged / seconds),
    p50: p(0.5),
    p99: p(0.99),
    acknowledged,
    statuses,
  }),
);
agent.destroy();
