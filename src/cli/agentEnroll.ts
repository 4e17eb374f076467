/**
 * `lock:cli agent enroll --property P --name desk-1 [--dir ./lock-agent] [--nats nats://…] [--nkey]` (`--url`, token
 * from LOCK_TOKEN or `--token`, `lock:admin`): makes the desk's Ed25519 device key here (0600; the private key
 * never leaves this machine), enrols its public half (`POST /properties/:id/agents`) and writes the agent's
 * `agent.json` (0600) beside it, its encoders left to fill in. Run on the desk's computer.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadOrCreateDeviceKey } from '../agent/agent.ts';
import { CliError, type CliIo, restClient } from './restClient.ts';

export async function runAgentEnroll(
  args: string[],
  env: Record<string, string | undefined>,
  io: Pick<CliIo, 'out'>,
): Promise<{ agentId: string; configFile: string }> {
  const arg = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const usage =
    'usage: lock:cli agent enroll --property P --name desk-1 [--dir ./lock-agent] [--nats nats://host:4222] [--nkey] ' +
    '(--url, --token or LOCK_TOKEN)';
  const [sub] = args;
  const propertyId = arg('property');
  const name = arg('name');
  const token = arg('token') ?? env.LOCK_TOKEN;
  if (sub !== 'enroll' || !propertyId || !name) throw new CliError(usage, 2);
  if (!token) throw new CliError(`no token: set LOCK_TOKEN or pass --token\n${usage}`, 2);
  const dir = path.resolve(arg('dir') ?? 'lock-agent');
  const configFile = path.join(dir, 'agent.json');
  if (existsSync(configFile)) throw new CliError(`${configFile} exists: this desk is enrolled already`, 2);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const deviceKeyFile = path.join(dir, 'device.pem');
  const key = loadOrCreateDeviceKey(deviceKeyFile);
  const url = arg('url') ?? env.LOCK_URL ?? 'http://127.0.0.1:8080';
  const call = restClient(url, token);
  const agent = await call<{ id: string; natsUser: string; subjects: { commands: string; events: string } }>(
    'POST',
    `/properties/${encodeURIComponent(propertyId)}/agents`,
    { name, publicKey: key.publicKey },
  );
  writeFileSync(
    configFile,
    `${JSON.stringify(
      {
        agentId: agent.id,
        propertyId,
        // The device key signs in to NATS (an nkey user), once the accounts are generated with it.
        nats: {
          servers: arg('nats') ?? 'nats://127.0.0.1:4222',
          ...(args.includes('--nkey') ? { nkey: true } : {}),
        },
        // Offline-issuance certificates, pushes and pulls go to the service's /sync/v1.
        sync: { url },
        deviceKeyFile,
        journalFile: path.join(dir, 'journal.jsonl'),
        encoders: [],
        heartbeatMs: 15_000,
      },
      null,
      2,
    )}\n`,
    { mode: 0o600, flag: 'wx' },
  );
  io.out(`agent ${agent.id} enrolled for property ${propertyId}`);
  io.out(`commands on ${agent.subjects.commands}, events on ${agent.subjects.events}`);
  io.out(`NATS user (nkey, its device key): ${agent.natsUser}`);
  io.out(`next: add the desk's encoders to ${configFile}, then: npm run agent -- --config ${configFile}`);
  return { agentId: agent.id, configFile };
}
