/**
 * lock:cli — `token --tenant <id> [--scope …]` prints a dev token (every scope unless narrowed) the running dev service accepts; `migrate` migrates;
 * `audit-verify --tenant <id>` checks the tenant's audit hash chain (exit 1 if broken); `lifecycle-docs`
 * regenerates the machines' diagrams and tables in docs/lifecycle.md; `vendor-switch plan|apply|status`
 * drives a property's switch to another lock vendor over REST (src/cli/vendorSwitch.ts, docs/cutover.md);
 * `agent enroll` makes a desk's device key and enrols the desktop agent (src/cli/agentEnroll.ts); `agent
 * nats-accounts` writes nats.conf's accounts for the active agents (src/cli/agentNatsAccounts.ts);
 * `offline-cert-cleanup` is the `lock-offline-cert-cleanup` job (expired certificates onto the revocation
 * list, long-expired ones archived; src/jobs/offlineCertCleanup.ts); `asyncapi [--write]` prints the AsyncAPI
 * document, or rewrites its committed baseline contracts/asyncapi.v1.json (src/cli/asyncapi.ts).
 */
import { databaseSettingsOf, loadConfig } from '../config.ts';
import { signDevToken } from '../gateway/auth.ts';
import { parseScopes } from '../gateway/scopes.ts';
import { verifyAuditChain } from '../audit/verifyChain.ts';
import { cleanOfflineCertificates } from '../jobs/offlineCertCleanup.ts';
import { sql } from 'kysely';
import { connect, ensureDatabase, migrateToLatest, withUser } from '../io/db/index.ts';

const [command, ...rest] = process.argv.slice(2);
const arg = (name: string) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : undefined;
};
// Only `token` needs the service's whole configuration; migrating and verifying need the database.
const database = databaseSettingsOf(process.env);

switch (command) {
  case 'token': {
    const tenant = arg('tenant');
    if (!tenant) {
      console.error(
        'usage: lock:cli token --tenant <tenantId> [--scope "lock:read lock:issue"] [--ttl <seconds>]',
      );
      process.exit(2);
    }
    const config = loadConfig(process.env);
    if (config.auth.mode !== 'dev') {
      console.error('token: only with AUTH_MODE=dev (JWKS tokens come from the identity provider)');
      process.exit(2);
    }
    const scope = arg('scope');
    let scopes: ReturnType<typeof parseScopes> | undefined;
    try {
      scopes = scope === undefined ? undefined : parseScopes(scope);
    } catch (e) {
      console.error(`token: ${(e as Error).message}`);
      process.exit(2);
    }
    console.log(
      await signDevToken(config.auth.secret, tenant, {
        ttlSeconds: Number(arg('ttl') ?? 12 * 3600),
        ...(scopes ? { scopes } : {}),
      }),
    );
    break;
  }
  case 'offline-cert-cleanup': {
    const db = connect(database.databaseUrl, { max: 1 });
    try {
      const r = await cleanOfflineCertificates({ db, clock: { now: () => new Date() } });
      console.log(`listed as expired: ${r.listed}, archived: ${r.archived}`);
    } finally {
      await db.destroy();
    }
    break;
  }
  case 'migrate': {
    await ensureDatabase(database.databaseUrl);
    const applied = await migrateToLatest(database.databaseUrl);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'up to date');
    // The runtime roles' passwords, where the environment gives them (production's role set-up).
    const owner = connect(database.databaseUrl, { max: 1 });
    try {
      for (const [role, password] of [
        ['lock_runtime', database.rolePasswords.runtime],
        ['lock_dispatcher', database.rolePasswords.dispatcher],
      ] as const)
        if (password) await sql`ALTER ROLE ${sql.id(role)} PASSWORD ${sql.lit(password)}`.execute(owner);
    } finally {
      await owner.destroy();
    }
    break;
  }
  case 'audit-verify': {
    const tenant = arg('tenant');
    if (!tenant) {
      console.error('usage: lock:cli audit-verify --tenant <tenantId>');
      process.exit(2);
    }
    // As the runtime role with the tenant set: what row-level security shows that tenant (the owner, under
    // FORCE ROW LEVEL SECURITY, would see no rows and call an empty chain sound).
    const db = connect(withUser(database.databaseUrl, 'lock_runtime', database.rolePasswords.runtime), {
      max: 1,
    });
    const verdict = await verifyAuditChain(db, tenant);
    await db.destroy();
    console.log(JSON.stringify(verdict));
    process.exit(verdict.ok ? 0 : 1);
    break;
  }
  case 'vendor-switch': {
    const { runVendorSwitch, CliError } = await import('./vendorSwitch.ts');
    try {
      await runVendorSwitch(rest, process.env);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      console.error(`vendor-switch: ${e.message}`);
      process.exit(e.exitCode);
    }
    break;
  }
  case 'agent': {
    const { runAgentEnroll } = await import('./agentEnroll.ts');
    const { CliError, defaultIo } = await import('./restClient.ts');
    if (rest[0] === 'nats-accounts') {
      const { runAgentNatsAccounts } = await import('./agentNatsAccounts.ts');
      const db = connect(database.databaseUrl, { max: 1 });
      try {
        await runAgentNatsAccounts(rest, db, defaultIo);
      } finally {
        await db.destroy();
      }
      break;
    }
    try {
      await runAgentEnroll(rest, process.env, defaultIo);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      console.error(`agent: ${e.message}`);
      process.exit(e.exitCode);
    }
    break;
  }
  case 'asyncapi': {
    const { asyncapiText, writeAsyncApiBaseline, ASYNCAPI_BASELINE } = await import('./asyncapi.ts');
    if (!rest.includes('--write')) {
      process.stdout.write(asyncapiText());
      break;
    }
    const { changed, breaking } = writeAsyncApiBaseline();
    for (const b of breaking) console.error(`breaking: ${b}`);
    console.log(changed ? `${ASYNCAPI_BASELINE} regenerated` : `${ASYNCAPI_BASELINE} up to date`);
    break;
  }
  case 'lifecycle-docs': {
    const { writeLifecycleDoc, LIFECYCLE_DOC } = await import('./lifecycleDocs.ts');
    console.log(writeLifecycleDoc() ? `${LIFECYCLE_DOC} regenerated` : `${LIFECYCLE_DOC} up to date`);
    break;
  }
  default:
    console.error(
      'usage: lock:cli <token --tenant <id> | migrate | audit-verify --tenant <id> | lifecycle-docs | asyncapi [--write] | ' +
        'vendor-switch <plan|apply|status> … | agent enroll --property P --name N | agent nats-accounts [--out F] | offline-cert-cleanup>',
    );
    process.exit(2);
}
