/** The closed loop both load processes run: C clients, N requests in all; latencies and statuses. */
import { type Dispatcher, request } from 'undici';

/**
 * POSTs one body through undici (as the Restate peer's load does, so both sides pay the same client
 * cost); resolves with the status (0 when the connection failed).
 */
export async function post(
  dispatcher: Dispatcher,
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<number> {
  try {
    const res = await request(url, { method: 'POST', dispatcher, headers, body });
    await res.body.dump();
    return res.statusCode;
  } catch {
    return 0;
  }
}

/** `send(i, client)`: request i of n, sent by client `client` of c (one connection each, if it likes). */
export async function closedLoop(n: number, c: number, send: (i: number, client: number) => Promise<number>) {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async (_, client) => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        const status = await send(i, client);
        latencies.push(performance.now() - t);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const p = (q: number) =>
    Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 100) /
    100;
  return {
    seconds: Math.round(seconds * 100) / 100,
    exactSeconds: seconds,
    p50: p(0.5),
    p90: p(0.9),
    p99: p(0.99),
    statuses,
  };
}
