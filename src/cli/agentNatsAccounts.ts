/**
 * `lock:cli agent nats-accounts [--root lock.desktop] [--out accounts.conf]`: the `accounts` block of
 * `nats.conf` for every active desk agent (all tenants; run where the database is reachable, as the
 * deployment's owner role), written atomically to `--out` or printed. See `src/desktop/natsAccounts.ts`.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { type AgentAccountEntry, natsAccountsConfig } from '../desktop/natsAccounts.ts';
import type { Db } from '../io/db/index.ts';
import type { CliIo } from './restClient.ts';

export async function runAgentNatsAccounts(args: string[], db: Db, io: Pick<CliIo, 'out'>): Promise<string> {
  const arg = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  // The owner role reads across tenants (the agents table lets it, for exactly this and the desktop bus).
  const rows = await db
    .selectFrom('desktop_agents')
    .select(['id', 'property_id', 'public_key'])
    .where('status', '=', 'active')
    .execute();
  const agents: AgentAccountEntry[] = rows.map((r) => ({
    agentId: r.id,
    propertyId: r.property_id,
    publicKey: r.public_key,
  }));
  const text = natsAccountsConfig(agents, { ...(arg('root') ? { root: arg('root') as string } : {}) });
  const out = arg('out');
  if (out) {
    writeFileSync(`${out}.tmp`, text, { mode: 0o644 });
    renameSync(`${out}.tmp`, out);
    io.out(`${agents.length} agent(s) written to ${out}; reload nats-server (nats-server --signal reload)`);
  } else io.out(text);
  return text;
}
