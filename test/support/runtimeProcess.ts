/**
 * A runtime in a process of its own, for the crash tests: `kill -9` must hit a real process. Settings come
 * as JSON in RUNTIME_SETTINGS (the secret key base64); prints `ready <owner>` once it consumes, then runs
 * until killed. SIGTERM stops it gracefully.
 */
import { systemClock } from '../../src/ids.ts';
import { type ServiceSettings, startService } from '../../src/service.ts';

type Wire = Omit<ServiceSettings, 'secretKey' | 'clock' | 'log'> & { secretKey: string };
const wire = JSON.parse(process.env.RUNTIME_SETTINGS ?? '') as Wire;
const service = await startService({
  ...wire,
  secretKey: Buffer.from(wire.secretKey, 'base64'),
  clock: systemClock,
  log: (msg, data) => process.stderr.write(`${msg} ${JSON.stringify(data ?? {})}\n`),
});
process.stdout.write(`ready ${wire.owner}\n`);
process.on('SIGTERM', () => {
  void service.stop().then(() => process.exit(0));
});
