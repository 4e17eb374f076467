/** lock:cli — `token --tenant <id>` prints a dev token the running dev service accepts; `migrate` migrates. */
import { loadConfig } from '../config.ts';
import { signDevToken } from '../gateway/auth.ts';
import { ensureDatabase, migrateToLatest } from '../io/db/index.ts';

const [command, ...rest] = process.argv.slice(2);
const arg = (name: string) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : undefined;
};
const config = loadConfig(process.env);

switch (command) {
  case 'token': {
    const tenant = arg('tenant');
    if (!tenant) {
      console.error('usage: lock:cli token --tenant <tenantId> [--ttl <seconds>]');
      process.exit(2);
    }
    if (config.auth.mode !== 'dev') {
      console.error('token: only in development (no AUTH_JWKS_URL)');
      process.exit(2);
    }
    console.log(await signDevToken(config.auth.secret, tenant, Number(arg('ttl') ?? 12 * 3600)));
    break;
  }
  case 'migrate': {
    await ensureDatabase(config.databaseUrl);
    const applied = await migrateToLatest(config.databaseUrl);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'up to date');
    break;
  }
  default:
    console.error('usage: lock:cli <token --tenant <id> | migrate>');
    process.exit(2);
}
