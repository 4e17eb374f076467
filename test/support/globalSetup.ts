/** Fails fast, with the fix, when PostgreSQL or NATS is not running (the tests never mock them). */
import net from 'node:net';

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export default async function setup() {
  const missing: string[] = [];
  if (!(await reachable(5432))) missing.push('PostgreSQL on 127.0.0.1:5432 (pg_ctlcluster 15 main start)');
  if (!(await reachable(4222))) missing.push('nats-server with JetStream on 127.0.0.1:4222 (see README)');
  if (missing.length > 0) throw new Error(`tests need: ${missing.join('; ')}`);
}
