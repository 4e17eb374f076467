/**
 * A runtime in a process of its own, for the crash tests: `kill -9` must hit a real process. Settings come
 * as JSON in RUNTIME_SETTINGS (the secret key base64); with RUNTIME_GATEWAY (`{port, authSecret}`, the
 * secret base64) it also serves the REST gateway, as a deployed process does. Prints `ready <owner>` once
 * it consumes, then runs until killed. SIGTERM stops it gracefully.
 */
import { buildGateway } from '../../src/gateway/app.ts';
import { createDevAuthenticator } from '../../src/gateway/auth.ts';
import { systemClock } from '../../src/ids.ts';
import { gatewayPorts, type ServiceSettings, startService } from '../../src/service.ts';

type Wire = Omit<ServiceSettings, 'secretKey' | 'clock' | 'log'> & { secretKey: string };
const wire = JSON.parse(process.env.RUNTIME_SETTINGS ?? '') as Wire;
const service = await startService({
  ...wire,
  secretKey: Buffer.from(wire.secretKey, 'base64'),
  clock: systemClock,
  log: (msg, data) => process.stderr.write(`${msg} ${JSON.stringify(data ?? {})}\n`),
});
const gateway = process.env.RUNTIME_GATEWAY
  ? (JSON.parse(process.env.RUNTIME_GATEWAY) as { port: number; authSecret: string })
  : null;
const app = gateway
  ? await buildGateway(
      gatewayPorts(
        service,
        createDevAuthenticator(Buffer.from(gateway.authSecret, 'base64')),
        2000,
        systemClock,
      ),
    )
  : null;
if (app && gateway) await app.listen({ port: gateway.port, host: '127.0.0.1' });
process.stdout.write(`ready ${wire.owner}\n`);
process.on('SIGTERM', () => {
  void (async () => {
    await app?.close();
    await service.stop();
    process.exit(0);
  })();
});
