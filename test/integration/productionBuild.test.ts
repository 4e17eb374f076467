/**
 * The production shape: `npm run build` emits JavaScript; `node dist/cli.js migrate` migrates as the owner;
 * `node dist/main.js` with NODE_ENV=production starts with no development package (an import hook refuses
 * them, as the production image lacks them), JWKS auth, live vendors, without migrating, and holds no
 * owner connection: only the runtime roles. SIGTERM stops it cleanly.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Db } from '../../src/io/db/index.ts';
import { dropDatabase, dropNats, eventually, uniqueId, freePort } from '../support/harness.ts';

const run = promisify(execFile);

describe('production build', () => {
  const id = uniqueId();
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/lock_prod_${id}`;
  const prefix = `p${id}`;
  let dir: string;
  let admin: Db;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'lock-prod-'));
    writeFileSync(path.join(dir, 'kek.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
    await run('npm', ['run', '-s', 'build'], { maxBuffer: 1 << 22 });
  }, 120_000);
  afterAll(async () => {
    child?.kill('SIGKILL');
    await admin?.destroy();
    await dropNats(prefix);
    await dropDatabase(databaseUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  it('production: migrate with the CLI, then run dist/main.js without development packages or owner connections', async () => {
    const migrated = await run(
      process.execPath,
      ['--import', './test/support/forbidDevPackages.mjs', 'dist/cli.js', 'migrate'],
      {
        env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: databaseUrl },
      },
    );
    expect(migrated.stdout).toMatch(/applied: .*0011_drop_cross_tenant_lookups/);

    // Production names its certificate-signing key (here a key file; Cloud KMS in a real deployment).
    const offlineKeyFile = path.join(dir, 'offline-issuance.pem');
    writeFileSync(
      offlineKeyFile,
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      { mode: 0o600 },
    );
    const port = await freePort();
    child = spawn(process.execPath, ['--import', './test/support/forbidDevPackages.mjs', 'dist/main.js'], {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        NATS_PREFIX: prefix,
        AUTH_MODE: 'jwks',
        AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks',
        AUTH_ISSUER: 'https://idp.test/',
        AUTH_AUDIENCE: 'lock-integration',
        DATA_KEY: randomBytes(32).toString('base64'),
        KEK_FILE: path.join(dir, 'kek.key'),
        OFFLINE_ISSUANCE_KEY_FILE: offlineKeyFile,
        ACTOR_PARTITIONS: '4',
        // The platform's own stream stands in here (production finds it made by the platform).
        CREATE_PLATFORM_STREAM: 'true',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;
    await eventually(
      async () => {
        // A process that stopped will not become ready: fail with what it said.
        if (child?.exitCode !== null) throw new Error(`exited: ${output.slice(-800)}`);
        return (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200 ? true : undefined;
      },
      30_000,
      'the production build to be ready',
    );
    // No development token is printed, and a token is needed.
    expect(output).not.toMatch(/TOKEN=/);
    expect((await fetch(`${base}/api/v1/properties/x`)).status).toBe(401);

    admin = connect(databaseUrl, { max: 1 });
    const sessions = await sql<{ usename: string }>`
      select distinct usename from pg_stat_activity
       where datname = ${`lock_prod_${id}`} and pid <> pg_backend_pid()`.execute(admin);
    expect(sessions.rows.map((r) => r.usename).sort()).toEqual(['lock_dispatcher', 'lock_runtime']);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
  });
});
