/**
 * Closed-loop REST load in its own process (as the Restate peer's load.mjs is): C clients, N requests in
 * all, each a new credential with its own Idempotency-Key. Prints one JSON line.
 * Usage: load.ts <baseUrl> <token> <propertyId> <rooms comma-separated> <n> <c>
 */
import http from 'node:http';

const [base, token, propertyId, roomList, nArg, cArg] = process.argv.slice(2);
if (!base || !token || !propertyId || !roomList)
  throw new Error('usage: load.ts base token property rooms n c');
const rooms = roomList.split(',');
const n = Number(nArg ?? 5000);
const c = Number(cArg ?? 32);
const agent = new http.Agent({ keepAlive: true, maxSockets: c });
const url = new URL('/api/v1/key-credentials', base);

function post(i: number): Promise<number> {
  const body = JSON.stringify({
    propertyId,
    holder: { kind: 'guest', ref: `guest-${i}` },
    kind: 'pin',
    rooms: [rooms[i % rooms.length]],
    validFrom: '2026-12-01T14:00:00.000Z',
    validUntil: '2026-12-03T11:00:00.000Z',
  });
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'idempotency-key': `load-${process.pid}-${i}`,
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
const settled = statuses['201'] ?? 0;
console.log(
  JSON.stringify({
    n,
    c,
    seconds: Math.round(seconds * 100) / 100,
    perSecond: Math.round(n / seconds),
    settledPerSecond: Math.round(settled / seconds),
    p50: p(0.5),
    p90: p(0.9),
    p99: p(0.99),
    statuses,
  }),
);
agent.destroy();
