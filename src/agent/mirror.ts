/**
 * The desk's local mirror, for when the service is out of reach: the property's credentials as last pulled
 * (which rooms are let, until when; no secrets), the certificate revocation list, the pull cursor, and the
 * provisional credentials issued here with what reconciliation said of each.
 *
 * SQLite (sql.js: SQLite compiled to WebAssembly, so nothing native to build on a front-desk PC and no Node 22
 * `node:sqlite`), held in memory and written whole after each change, encrypted: AES-256-GCM under a key
 * derived from the device key (HKDF), so the file alone — a copied disk, a backup — gives nothing, and the
 * device key stays the one secret the desk keeps. Written to a temporary file, fsynced, then renamed over the
 * old one: a crash leaves the old mirror or the new, never half of one.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import initSqlJs, { type Database } from 'sql.js';
import type { OfflineCertificate } from '../desktop/certificates.ts';
import type { DeviceKey } from '../desktop/envelope.ts';
import type {
  CrlEntry,
  MirroredCredential,
  ProvisionalIssuance,
  PushResult,
} from '../desktop/provisional.ts';

const MAGIC = Buffer.from('LKM1');

/** A provisional credential's life at the desk: signed, then written (or not), then pushed and answered. */
export type ProvisionalState = 'signed' | 'encoded' | 'uncertain' | 'void';

export interface ProvisionalEntry {
  record: ProvisionalIssuance;
  state: ProvisionalState;
  uid: string | null;
  /** Why it was voided (the card was never written). */
  problem: string | null;
  result: PushResult | null;
}

/** What the desk's window shows of one: no card number, no signature. */
export interface ProvisionalView {
  id: string;
  /**
   * The credential's status as the desk knows it: `provisional` until reconciled, then the service's (`active`…)
   * or `rejected`; `void` when no card was written.
   */
  status: string;
  rooms: string[];
  validFrom: string;
  validUntil: string;
  reservationId: string | null;
  state: ProvisionalState;
  problem: string | null;
  outcome: PushResult['outcome'] | 'pending' | null;
  reason: string | null;
  changes: PushResult['changes'] | null;
}

const LIVE = new Set(['requested', 'issuing', 'active', 'updating']);

export function mirrorKey(device: DeviceKey, agentId: string): Buffer {
  const secret = device.privateKey.export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from('lock-agent-mirror'), Buffer.from(agentId), 32));
}

function encrypt(key: Buffer, plain: Uint8Array): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([MAGIC, iv, c.getAuthTag(), body]);
}

function decrypt(key: Buffer, file: Buffer): Buffer {
  if (!file.subarray(0, 4).equals(MAGIC)) throw new Error('not a desk mirror');
  const d = createDecipheriv('aes-256-gcm', key, file.subarray(4, 16));
  d.setAuthTag(file.subarray(16, 32));
  return Buffer.concat([d.update(file.subarray(32)), d.final()]);
}

let sqlJs: Promise<Awaited<ReturnType<typeof initSqlJs>>> | undefined;
function loadSqlJs() {
  const wasm = path.join(path.dirname(createRequire(import.meta.url).resolve('sql.js')), 'sql-wasm.wasm');
  sqlJs ??= initSqlJs({ locateFile: () => wasm });
  return sqlJs;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS credentials (id TEXT PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS crl (serial TEXT PRIMARY KEY, agent_id TEXT NOT NULL, reason TEXT NOT NULL, at TEXT);
  CREATE TABLE IF NOT EXISTS provisional (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, record TEXT NOT NULL, state TEXT NOT NULL, uid TEXT,
    problem TEXT, result TEXT);
  CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
  CREATE TABLE IF NOT EXISTS certificates (serial TEXT PRIMARY KEY, body TEXT NOT NULL);
`;

export class LocalMirror {
  private constructor(
    private readonly db: Database,
    private readonly file: string,
    private readonly key: Buffer,
  ) {}

  /** Opens (or makes) the mirror; a file that does not decrypt under this device's key is refused. */
  static async open(file: string, key: Buffer): Promise<LocalMirror> {
    const SQL = await loadSqlJs();
    const db = existsSync(file) ? new SQL.Database(decrypt(key, readFileSync(file))) : new SQL.Database();
    db.run(SCHEMA);
    return new LocalMirror(db, file, key);
  }

  private all<T>(query: string, params: (string | number | null)[] = []): T[] {
    const st = this.db.prepare(query);
    try {
      st.bind(params);
      const out: T[] = [];
      while (st.step()) out.push(st.getAsObject() as T);
      return out;
    } finally {
      st.free();
    }
  }

  /** Writes the mirror, encrypted, atomically (temporary file, fsync, rename, directory fsync). */
  persist(): void {
    const data = encrypt(this.key, this.db.export());
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    const dir = openSync(path.dirname(this.file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  get cursor(): string | null {
    return this.all<{ v: string }>(`SELECT v FROM meta WHERE k = 'cursor'`)[0]?.v ?? null;
  }

  /** A pulled page: credentials upserted, revocation-list entries added, the cursor moved; then written. */
  applyPull(page: { cursor: string; credentials: MirroredCredential[]; crl: CrlEntry[] }): void {
    this.db.run('BEGIN');
    for (const c of page.credentials)
      this.db.run('INSERT OR REPLACE INTO credentials (id, body) VALUES (?, ?)', [c.id, JSON.stringify(c)]);
    for (const e of page.crl)
      this.db.run('INSERT OR REPLACE INTO crl (serial, agent_id, reason, at) VALUES (?, ?, ?, ?)', [
        e.serial,
        e.agentId,
        e.reason,
        e.at,
      ]);
    this.db.run(`INSERT OR REPLACE INTO meta (k, v) VALUES ('cursor', ?)`, [page.cursor]);
    this.db.run('COMMIT');
    this.persist();
  }

  /** Whether the certificate is on the revocation list as revoked (an expired one is listed as expired). */
  certificateRevoked(serial: string): boolean {
    return this.all(`SELECT 1 FROM crl WHERE serial = ? AND reason = 'revoked'`, [serial]).length > 0;
  }

  /** Keeps a certificate held (a provisional record is pushed with the one it was issued under). */
  keepCertificate(c: OfflineCertificate): void {
    if (this.certificate(c.serial)) return;
    this.db.run('INSERT INTO certificates (serial, body) VALUES (?, ?)', [c.serial, JSON.stringify(c)]);
    this.persist();
  }

  certificate(serial: string): Record<string, unknown> | null {
    const r = this.all<{ body: string }>('SELECT body FROM certificates WHERE serial = ?', [serial])[0];
    return r ? (JSON.parse(r.body) as Record<string, unknown>) : null;
  }

  credentialCount(): number {
    return this.all<{ n: number }>('SELECT count(*) AS n FROM credentials')[0]?.n ?? 0;
  }

  /**
   * Rooms let to another stay (or guest) over the window, as the mirror and this desk's own provisional
   * credentials know: what the desk is told before it writes a card.
   */
  roomsTaken(q: {
    rooms: string[];
    validFrom: string;
    validUntil: string;
    reservationId: string | null;
    holderRef: string;
  }): string[] {
    const from = Date.parse(q.validFrom);
    const until = Date.parse(q.validUntil);
    const other = (c: { reservationId: string | null; holderRef: string }) =>
      q.reservationId ? c.reservationId !== q.reservationId : c.holderRef !== q.holderRef;
    const overlaps = (c: { validFrom: string; validUntil: string }) =>
      Date.parse(c.validFrom) < until && Date.parse(c.validUntil) > from;
    const mirrored = this.all<{ body: string }>('SELECT body FROM credentials')
      .map((r) => JSON.parse(r.body) as MirroredCredential)
      .filter((c) => LIVE.has(c.status) && other(c) && overlaps(c));
    const mine = this.provisional()
      .filter((p) => p.state !== 'void' && p.result?.outcome !== 'rejected')
      .map((p) => p.record)
      .filter((r) => other(r) && overlaps(r));
    const taken = new Set([...mirrored, ...mine].flatMap((c) => c.rooms));
    return q.rooms.filter((r) => taken.has(r));
  }

  addProvisional(record: ProvisionalIssuance): void {
    this.db.run(
      `INSERT INTO provisional (id, seq, record, state)
       VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM provisional), ?, 'signed')`,
      [record.id, JSON.stringify(record)],
    );
    this.persist();
  }

  /** Changes what is given of one card (the rest as it is), in one statement. */
  updateProvisional(
    id: string,
    change: { state?: ProvisionalState; uid?: string | null; problem?: string; result?: PushResult },
  ): void {
    this.db.run(
      `UPDATE provisional SET state = coalesce(?, state), uid = CASE WHEN ? THEN ? ELSE uid END,
         problem = coalesce(?, problem), result = coalesce(?, result) WHERE id = ?`,
      [
        change.state ?? null,
        change.uid !== undefined ? 1 : 0,
        change.uid ?? null,
        change.problem ?? null,
        change.result ? JSON.stringify(change.result) : null,
        id,
      ],
    );
    this.persist();
  }

  /** Answers of a push, recorded in one write; how many of them were for cards issued here. */
  recordResults(results: PushResult[]): number {
    let recorded = 0;
    this.db.run('BEGIN');
    for (const r of results)
      if (r.id) {
        this.db.run('UPDATE provisional SET result = ? WHERE id = ?', [JSON.stringify(r), r.id]);
        recorded += this.db.getRowsModified();
      }
    this.db.run('COMMIT');
    this.persist();
    return recorded;
  }

  provisional(): ProvisionalEntry[] {
    return this.all<{
      record: string;
      state: string;
      uid: string | null;
      problem: string | null;
      result: string | null;
    }>('SELECT record, state, uid, problem, result FROM provisional ORDER BY seq').map((r) => ({
      record: JSON.parse(r.record) as ProvisionalIssuance,
      state: r.state as ProvisionalState,
      uid: r.uid,
      problem: r.problem,
      result: r.result ? (JSON.parse(r.result) as PushResult) : null,
    }));
  }

  /** Written (or maybe written) and not answered yet: what the next push sends. */
  unpushed(): ProvisionalEntry[] {
    return this.provisional().filter(
      (p) => (p.state === 'encoded' || p.state === 'uncertain') && (!p.result || p.result.retry === true),
    );
  }

  close(): void {
    this.db.close();
  }
}

export function provisionalView(p: ProvisionalEntry): ProvisionalView {
  const status =
    p.state === 'void'
      ? 'void'
      : p.result?.outcome === 'rejected'
        ? 'rejected'
        : p.result && !p.result.retry
          ? (p.result.status ?? 'active')
          : 'provisional';
  return {
    id: p.record.id,
    status,
    rooms: p.record.rooms,
    validFrom: p.record.validFrom,
    validUntil: p.record.validUntil,
    reservationId: p.record.reservationId,
    state: p.state,
    problem: p.problem,
    outcome: p.result?.outcome ?? (p.state === 'void' ? null : 'pending'),
    reason: p.result?.reason ?? null,
    changes: p.result?.changes ?? null,
  };
}
