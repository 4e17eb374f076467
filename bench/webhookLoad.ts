/**
 * Closed-loop webhook load in its own process: C clients, N Svix-signed Seam events in all, each with
 * its own message id. Prints one JSON line. Usage: webhookLoad.ts <baseUrl> <whsec_secret> <n> <c>
 */
import { createHmac, randomUUID } from 'node:crypto';
import { Agent } from 'undici';
import { closedLoop, post } from './closedLoop.ts';

const [base, secret, nArg, cArg] = process.argv.slice(2);
if (!base || !secret) throw new Error('usage: webhookLoad.ts base secret n c');
const n = Number(nArg ?? 20000);
const c = Number(cArg ?? 64);
const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
const agent = new Agent({ connections: c, pipelining: 1 });
const url = new URL('/webhooks/v1/seam', base);

// Every request is built and signed before the clock starts: the generator shares the machine's two
// cores with the service, and signing is the vendor's work, not ours.
const requests = Array.from({ length: n }, (_, i) => {
  const id = `msg_${randomUUID()}`;
  const body = JSON.stringify({
    event_id: randomUUID(),
    event_type: 'lock.unlocked',
    device_id: `device_${i % 500}`,
    occurred_at: new Date().toISOString(),
  });
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  const headers = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': ts,
    'webhook-signature': `v1,${sig}`,
  };
  return { headers, body };
});
const r = await closedLoop(n, c, (i) => {
  const q = requests[i];
  return q ? post(agent, url, q.headers, q.body) : Promise.resolve(0);
});
const acknowledged = (r.statuses['202'] ?? 0) + (r.statuses['200'] ?? 0);
console.log(
  JSON.stringify({
    n,
    c,
    seconds: r.seconds,
    perSecond: Math.round(acknowledged / r.exactSeconds),
    p50: r.p50,
    p99: r.p99,
    acknowledged,
    statuses: r.statuses,
  }),
);
await agent.close();
