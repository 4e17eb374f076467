/**
 * The desktop agent: a Node process (or the main process of the front desk's Electron app, which embeds it)
 * that owns the property's encoders. It listens for its commands (`encode`, `read`, `erase`, `operation`) on
 * `<root>.<property>.<agent>.cmd.>`,
 * answers with signed events on `…evt.<name>`, announces itself (`hello`) and beats (`heartbeat`).
 *
 * An encode is done at most once per operation: the journal records that it began before the encoder is
 * asked and what came of it before the answer is sent, so a command sent again (a lost answer, a retry) is
 * answered from the journal, and one that was cut short by a crash is first looked for in the slot (the card
 * written then is recognised by the digest of its data) before anything is written again.
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { deviceKeyAuthenticator } from '../desktop/natsAccounts.ts';
import { Compile } from 'typebox/compile';
import Type, { type Static } from 'typebox';
import { type DeviceKey, deviceKeyFromPem, generateDeviceKey, signMessage } from '../desktop/envelope.ts';
import { lineEncoder } from '../io/encoders/lineEncoder.ts';
import { openHidLink } from '../io/encoders/hidLink.ts';
import { type ByteLink, openSerialLink, openTcpLink } from '../io/encoders/link.ts';
import { onityEncoder } from '../io/encoders/onityEncoder.ts';
import { type Encoder, EncoderError } from '../io/encoders/port.ts';
import { EncodeCommand, OperationQuery, ReadCommand } from '../desktop/messageSchemas.ts';
import { setTimeout as delay } from 'node:timers/promises';
import type { ProvisionalIssuance } from '../desktop/provisional.ts';
import { MAX_PUSH_ITEMS } from '../desktop/provisional.ts';
import { loadHeldCertificate, renewCertificate } from './certificateClient.ts';
import { syncFetch } from './httpClient.ts';
import { LocalMirror, mirrorKey, type ProvisionalView, provisionalView } from './mirror.ts';
import { type OfflineIssueRequest, OfflineIssueError, prepareOffline } from './offlineIssuer.ts';
import { pullPage, pushProvisional, type SyncIdentity } from './syncClient.ts';
import { dataDigest, Journal, type JournalEntry } from './journal.ts';
import { type AgentStore, createAgentStore } from './state.ts';

const SerialPort = Type.Object({
  path: Type.String({ minLength: 1 }),
  baudRate: Type.Optional(Type.Integer()),
});
const EncoderConfig = Type.Union([
  Type.Object({ id: Type.String({ minLength: 1 }), kind: Type.Literal('line'), serial: SerialPort }),
  // The line protocol through a vendor-defined USB HID interface (node-hid, loaded when opened).
  Type.Object({
    id: Type.String({ minLength: 1 }),
    kind: Type.Literal('hid'),
    hid: Type.Object({
      vendorId: Type.Integer({ minimum: 0, maximum: 0xffff }),
      productId: Type.Integer({ minimum: 0, maximum: 0xffff }),
      path: Type.Optional(Type.String()),
      reportSize: Type.Optional(Type.Integer({ minimum: 8, maximum: 1024 })),
    }),
  }),
  Type.Object({
    id: Type.String({ minLength: 1 }),
    kind: Type.Literal('onity'),
    serial: Type.Optional(SerialPort),
    tcp: Type.Optional(Type.Object({ host: Type.String(), port: Type.Integer() })),
    encoderNumber: Type.Optional(Type.String()),
    timeZone: Type.Optional(Type.String()),
  }),
]);
export const AgentConfig = Type.Object({
  agentId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  propertyId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }),
  nats: Type.Object({
    servers: Type.String(),
    user: Type.Optional(Type.String()),
    pass: Type.Optional(Type.String()),
    /** The desktop subject root (`lock.desktop`; a test's own prefix before it). */
    subjectRoot: Type.Optional(Type.String()),
    /**
     * Sign in with the device key as a NATS nkey user (the accounts `lock:cli agent nats-accounts` generates);
     * otherwise `user`/`pass`, or none (a development server).
     */
    nkey: Type.Optional(Type.Boolean()),
    /** How long a start waits for NATS before going on without it (it keeps connecting). */
    startWaitMs: Type.Optional(Type.Integer({ minimum: 0 })),
    /** TLS to the server (production): the CA that signed it, and a client certificate where it asks for one. */
    tls: Type.Optional(
      Type.Object({
        caFile: Type.Optional(Type.String()),
        certFile: Type.Optional(Type.String()),
        keyFile: Type.Optional(Type.String()),
      }),
    ),
  }),
  /** The device key's file (PKCS#8 PEM, 0600), made on first start. */
  deviceKeyFile: Type.String(),
  journalFile: Type.String(),
  /** The encrypted local mirror (default: beside the journal). */
  mirrorFile: Type.Optional(Type.String()),
  /** How long an offline issue waits for a card at the encoder. */
  offlineEncodeTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
  encoders: Type.Array(EncoderConfig, { maxItems: 8 }),
  heartbeatMs: Type.Optional(Type.Integer({ minimum: 100 })),
  /** The service's `/sync/v1` (its base URL): offline-issuance certificates are renewed there while online. */
  sync: Type.Optional(
    Type.Object({
      url: Type.String(),
      renewEveryMs: Type.Optional(Type.Integer({ minimum: 1000 })),
      /** The CA that signed the service's certificate, when it is the deployment's own. */
      caFile: Type.Optional(Type.String()),
      /** How often provisional cards are pushed and the mirror pulled while online (and at every reconnect). */
      syncEveryMs: Type.Optional(Type.Integer({ minimum: 100 })),
    }),
  ),
});
export type AgentConfig = Static<typeof AgentConfig>;
const checkConfig = Compile(AgentConfig);

// The commands' schemas are the service's NATS contract too (the AsyncAPI document is generated from them).
const checkOperation = Compile(OperationQuery);
const checkEncode = Compile(EncodeCommand);
const checkRead = Compile(ReadCommand);

/**
 * This start's number: one more than the last (kept beside the journal, fsynced), so the service can tell a
 * message of an earlier start, replayed, from a new one.
 */
function nextBoot(file: string): number {
  const last = existsSync(file) ? Number.parseInt(readFileSync(file, 'utf8'), 10) : 0;
  const next = (Number.isSafeInteger(last) && last > 0 ? last : 0) + 1;
  const fd = openSync(file, 'w', 0o600);
  try {
    writeSync(fd, String(next));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return next;
}

/** The device key from its file, made (0600) on first start: the private key never leaves this machine. */
export function loadOrCreateDeviceKey(file: string): DeviceKey {
  if (existsSync(file)) return deviceKeyFromPem(readFileSync(file, 'utf8'));
  const { key, pem } = generateDeviceKey();
  writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return key;
}

/** A host's keychain for the device key (its PKCS#8 PEM): the private key stays there and in memory only. */
export interface DeviceKeyStore {
  load(): Promise<string | null>;
  save(pem: string): Promise<void>;
}

/** The device key from the host's keychain, made and saved there on first start. */
export async function loadOrCreateKeyIn(store: DeviceKeyStore): Promise<DeviceKey> {
  const pem = await store.load();
  if (pem) return deviceKeyFromPem(pem);
  const made = generateDeviceKey();
  await store.save(made.pem);
  return made.key;
}

export interface RunningAgent {
  store: AgentStore;
  publicKey: string;
  /** Issues a card with the service out of reach (a provisional credential; `docs/desktop-agent.md`). */
  issueOffline(req: OfflineIssueRequest): Promise<ProvisionalView>;
  /** The provisional cards issued here and what reconciliation said of each. */
  provisional(): ProvisionalView[];
  /** Pushes the provisional cards and pulls the mirror now. */
  syncNow(): Promise<void>;
  stop(): Promise<void>;
}

export async function startAgent(
  raw: unknown,
  o: {
    log?: (msg: string, data?: Record<string, unknown>) => void;
    /**
     * Where the device key is kept, when the host has better than a 0600 file: the OS keychain (Electron's
     * `safeStorage`, the macOS Keychain, the Windows Credential Manager). Given, `deviceKeyFile` is not used.
     */
    keyStore?: DeviceKeyStore;
  } = {},
): Promise<RunningAgent> {
  if (!checkConfig.Check(raw)) throw new Error(`agent config: ${[...checkConfig.Errors(raw)][0]?.message}`);
  const config = raw as AgentConfig;
  const log = o.log ?? (() => {});
  const key = o.keyStore ? await loadOrCreateKeyIn(o.keyStore) : loadOrCreateDeviceKey(config.deviceKeyFile);
  const journal = new Journal(config.journalFile);
  const store = createAgentStore(config.encoders);
  const boot = String(nextBoot(`${config.journalFile}.boot`));
  let seq = 0;
  const prefix = `${config.nats.subjectRoot ?? 'lock.desktop'}.${config.propertyId}.${config.agentId}`;

  const encoders = new Map<string, Encoder>();
  async function encoderFor(id: string | undefined): Promise<[string, Encoder]> {
    const c = id ? config.encoders.find((e) => e.id === id) : config.encoders[0];
    if (!c)
      throw new EncoderError('REFUSED', id ? `no encoder ${id} at this desk` : 'no encoder at this desk');
    const open = encoders.get(c.id);
    if (open) return [c.id, open];
    let link: ByteLink;
    if (c.kind === 'line') link = await openSerialLink(c.serial.path, c.serial.baudRate);
    else if (c.kind === 'hid') link = await openHidLink(c.hid);
    else if (c.tcp) link = await openTcpLink(c.tcp.host, c.tcp.port);
    else if (c.serial) link = await openSerialLink(c.serial.path, c.serial.baudRate);
    else throw new EncoderError('REFUSED', `encoder ${c.id}: neither serial nor tcp`);
    const e =
      c.kind === 'line' || c.kind === 'hid'
        ? lineEncoder(link, { log })
        : onityEncoder(link, {
            log,
            ...(c.encoderNumber ? { encoderNumber: c.encoderNumber } : {}),
            ...(c.timeZone ? { timeZone: c.timeZone } : {}),
          });
    // A link that goes away is forgotten: the next command opens it again (the encoder plugged back in).
    link.onClose((why) => {
      encoders.delete(c.id);
      store.trigger.encoderSeen({ id: c.id, model: null, online: false, error: why });
    });
    encoders.set(c.id, e);
    return [c.id, e];
  }

  /** The NATS connection once made (a desk may start while the service is out of reach). */
  let nc: NatsConnection | null = null;
  const emit = (name: string, body: Record<string, unknown>) => {
    if (!nc) return;
    const m = signMessage(key, {
      agentId: config.agentId,
      propertyId: config.propertyId,
      name,
      boot,
      seq: ++seq,
      at: new Date().toISOString(),
      body,
    });
    nc.publish(`${prefix}.evt.${name}`, JSON.stringify(m));
  };

  const inFlight = new Set<string>();
  /**
   * Whether an earlier attempt of the operation may have written a card, as far as the journal says: begun
   * and never ended (a crash), or ended in a failure that could not say.
   */
  const mayHaveWritten = (e: JournalEntry | undefined) =>
    e?.state === 'started' || (e?.state === 'failed' && !e.nothingWritten);

  /**
   * Settles an earlier attempt that may have written: the encoder that ran it calls it off and says whether
   * it wrote a card (a line encoder), or the card in the slot is read back (data cards). The card it wrote,
   * null for none, or undefined when it cannot be told (the caller must not write again).
   */
  async function settle(op: string, digest: string, encoder: Encoder, timeoutMs: number) {
    if (encoder.cancel) {
      const r = await encoder.cancel(op, Math.min(timeoutMs, 5000)).catch(() => undefined);
      if (r) return r.written;
    }
    const inSlot = await encoder.read(Math.min(timeoutMs, 5000)).catch(() => null);
    if (inSlot?.data && dataDigest(inSlot.data.format, inSlot.data.bits) === digest)
      return { uid: inSlot.uid };
    // A room-key encoder without cancel (Onity): its new CN voids the room's earlier cards, so writing again
    // leaves one working card. One that can cancel and did not answer cannot say.
    return encoder.cancel ? undefined : null;
  }

  type EncodeResult =
    | { ok: true; uid: string; encoderId?: string; again: boolean }
    | {
        ok: false;
        encoderId: string;
        failure: string;
        retryable: boolean;
        nothingWritten: boolean;
        reason: string;
      };

  /** Encodes at most once per operation; the outcome, or null while an attempt of it runs (its answer will come). */
  async function encodeOnce(cmd: Static<typeof EncodeCommand>): Promise<EncodeResult | null> {
    const op = cmd.operationId;
    if (inFlight.has(op)) return null;
    const prior = journal.get(op);
    if (prior?.state === 'done') return { ok: true, uid: prior.uid ?? '', again: true };
    inFlight.add(op);
    store.trigger.encodeStarted({ op });
    const at = () => new Date().toISOString();
    let encoderId =
      (prior?.state === 'started' ? prior.encoderId : undefined) ??
      cmd.encoderId ??
      config.encoders[0]?.id ??
      '';
    /** Until this attempt begins a write, nothing it does writes a card (an earlier attempt may have). */
    let began = false;
    let unresolved = mayHaveWritten(prior);
    try {
      const [id, encoder] = await encoderFor(encoderId || undefined);
      encoderId = id;
      const digest = cmd.data
        ? dataDigest(cmd.data.format, cmd.data.bits)
        : dataDigest('rooms', cmd.rooms.join(','));
      if (prior && unresolved) {
        const written = await settle(op, digest, encoder, cmd.timeoutMs);
        if (written === undefined)
          throw new EncoderError(
            'PROTOCOL',
            'an earlier attempt may have written a card and the encoder cannot say',
          );
        if (written) {
          journal.record({ op, state: 'done', uid: written.uid, at: at() });
          store.trigger.encodeEnded({ op, ok: true });
          return { ok: true, uid: written.uid, encoderId: id, again: true };
        }
        unresolved = false;
      }
      journal.record({ op, state: 'started', digest, encoderId: id, at: at() });
      began = true;
      const card = await encoder.encode(
        {
          operationId: op,
          data: cmd.data,
          rooms: cmd.rooms,
          validFrom: cmd.validFrom,
          validUntil: cmd.validUntil,
        },
        cmd.timeoutMs,
      );
      journal.record({ op, state: 'done', uid: card.uid, at: at() });
      store.trigger.encoderSeen({ id, model: null, online: true });
      store.trigger.encodeEnded({ op, ok: true });
      return { ok: true, uid: card.uid, encoderId: id, again: false };
    } catch (e) {
      const err = e instanceof EncoderError ? e : new EncoderError('PROTOCOL', String(e));
      // Nothing written only if no attempt may have: this one never began, or its encoder said so.
      const nothingWritten = !unresolved && (!began || err.nothingWritten);
      try {
        journal.record({
          op,
          state: 'failed',
          failure: err.failure,
          reason: err.message,
          nothingWritten,
          at: at(),
        });
      } catch (fatal) {
        log('could not record a failed encode', { err: String(fatal) });
      }
      if (err.failure === 'OFFLINE')
        store.trigger.encoderSeen({ id: encoderId, model: null, online: false, error: err.message });
      store.trigger.encodeEnded({ op, ok: false, problem: `${err.failure}: ${err.message}` });
      return {
        ok: false,
        encoderId,
        failure: err.failure,
        retryable: err.retryable || !nothingWritten,
        nothingWritten,
        reason: err.message.slice(0, 300),
      };
    } finally {
      inFlight.delete(op);
    }
  }

  /** A `cmd.encode`: encoded at most once, answered `card_encoded` or `encode_failed`. */
  async function encode(cmd: Static<typeof EncodeCommand>): Promise<void> {
    const r = await encodeOnce(cmd);
    if (!r) return;
    const op = cmd.operationId;
    if (r.ok)
      emit('card_encoded', {
        operationId: op,
        uid: r.uid,
        ...(r.encoderId ? { encoderId: r.encoderId } : {}),
        again: r.again,
      });
    else {
      const { ok: _, ...failed } = r;
      emit('encode_failed', { operationId: op, ...failed });
    }
  }

  async function read(cmd: Static<typeof ReadCommand>): Promise<void> {
    try {
      const [id, encoder] = await encoderFor(cmd.encoderId);
      const card = await encoder.read(cmd.timeoutMs);
      emit('card_read', {
        requestId: cmd.requestId,
        encoderId: id,
        uid: card.uid,
        format: card.data?.format ?? null,
      });
    } catch (e) {
      const err = e instanceof EncoderError ? e : new EncoderError('PROTOCOL', String(e));
      emit('read_failed', {
        requestId: cmd.requestId,
        failure: err.failure,
        reason: err.message.slice(0, 300),
      });
    }
  }

  /** A `cmd.erase`: the card in the slot wiped (a card handed back, before it goes to the next guest). */
  async function erase(cmd: Static<typeof ReadCommand>): Promise<void> {
    try {
      const [id, encoder] = await encoderFor(cmd.encoderId);
      await encoder.erase(cmd.timeoutMs);
      emit('card_erased', { requestId: cmd.requestId, encoderId: id });
    } catch (e) {
      const err = e instanceof EncoderError ? e : new EncoderError('PROTOCOL', String(e));
      emit('erase_failed', {
        requestId: cmd.requestId,
        failure: err.failure,
        reason: err.message.slice(0, 300),
      });
    }
  }

  const hello = async () => {
    const seen = [];
    for (const c of config.encoders) {
      try {
        const [, e] = await encoderFor(c.id);
        const info = await e.info(2000);
        store.trigger.encoderSeen({ id: c.id, model: info.model, online: true });
        seen.push({ id: c.id, kind: c.kind, model: info.model, online: true });
      } catch (err) {
        store.trigger.encoderSeen({ id: c.id, model: null, online: false, error: String(err) });
        seen.push({ id: c.id, kind: c.kind, model: null, online: false });
      }
    }
    emit('hello', { encoders: seen, publicKey: key.publicKey });
  };
  /**
   * Writes this agent began and never saw end (it was killed mid-encode): each is called off at its encoder,
   * which says whether it wrote a card for it meanwhile (the encoder may have waited for a card, and got one,
   * while the agent was down). The journal then says which, so the service's retry is answered right.
   */
  async function settleUnfinished(): Promise<void> {
    for (const e of journal.unfinished()) {
      try {
        const [, encoder] = await encoderFor(e.encoderId);
        if (!encoder.cancel) continue;
        const r = await encoder.cancel(e.op, 2000);
        const at = new Date().toISOString();
        if (r.written) journal.record({ op: e.op, state: 'done', uid: r.written.uid, at });
        else
          journal.record({
            op: e.op,
            state: 'failed',
            failure: 'OFFLINE',
            reason: 'the agent stopped mid-encode; the write was called off',
            nothingWritten: true,
            at,
          });
        log('unfinished encode settled', { written: r.written !== null });
      } catch (err) {
        log('unfinished encode left for the next command', { err: String(err) });
      }
    }
  }

  // Earlier writes settled first: a command sent again, or a provisional card recovered, must find the
  // journal as it is now.
  await settleUnfinished();

  // Offline issuance: the certificate held, the encrypted mirror, and the provisional cards of earlier runs.
  const certificateFile = `${config.journalFile}.certificate.json`;
  let held = loadHeldCertificate(certificateFile);
  if (held)
    store.trigger.certificate({ serial: held.certificate.serial, notAfter: held.certificate.notAfter });
  const mirror = await LocalMirror.open(
    config.mirrorFile ?? `${config.journalFile}.mirror`,
    mirrorKey(key, config.agentId),
  );
  const offlineStats = () => {
    const all = mirror.provisional();
    store.trigger.offline({
      pending: all.filter((p) => (p.state === 'encoded' || p.state === 'uncertain') && !p.result).length,
      accepted: all.filter((p) => p.result && p.result.outcome !== 'rejected').length,
      rejected: all.filter((p) => p.result?.outcome === 'rejected').length,
      mirrored: mirror.credentialCount(),
    });
  };
  const offlineOp = (id: string) => `prov:${id}`;
  /** A provisional card whose encode was cut short (a crash): what the journal says of it now. */
  function recoverProvisional(): void {
    for (const p of mirror.provisional().filter((x) => x.state === 'signed')) {
      const e = journal.get(offlineOp(p.record.id));
      if (e?.state === 'done')
        mirror.updateProvisional(p.record.id, { state: 'encoded', uid: e.uid ?? null });
      else if (!e || (e.state === 'failed' && e.nothingWritten))
        mirror.updateProvisional(p.record.id, {
          state: 'void',
          problem: 'the desk stopped before the card was written',
        });
      // Begun and not known to have written nothing: pushed all the same, so the service knows of the card.
      else mirror.updateProvisional(p.record.id, { state: 'uncertain' });
    }
  }
  recoverProvisional();
  offlineStats();

  const sync: SyncIdentity | null = config.sync
    ? {
        url: config.sync.url,
        key,
        agentId: config.agentId,
        propertyId: config.propertyId,
        boot,
        nextSeq: () => ++seq,
        fetch: syncFetch({ ...(config.sync.caFile ? { caFile: config.sync.caFile } : {}) }),
      }
    : null;
  let pushing: Promise<void> | null = null;
  /** Sends every written, unanswered provisional card, a page at a time; each answer recorded as it comes. */
  async function pushAll(): Promise<void> {
    if (!sync) return;
    for (;;) {
      const page = mirror.unpushed().slice(0, MAX_PUSH_ITEMS);
      if (page.length === 0) return;
      const r = await pushProvisional(
        sync,
        page.map((p) => ({ issuance: p.record, certificate: certificateOf(p.record), uid: p.uid })),
      );
      if (!r.ok) {
        store.trigger.problem({ problem: `provisional cards not pushed: ${r.reason}` });
        log('provisional cards not pushed', { reason: r.reason });
        return;
      }
      const answered = mirror.recordResults(r.results);
      offlineStats();
      // Answers for none of the page (a service that answered something else): not sent again at once.
      if (answered === 0 || r.results.every((x) => x.retry)) return;
      log('provisional cards reconciled', {
        items: r.results.length,
        rejected: r.results.filter((x) => x.outcome === 'rejected').length,
      });
    }
  }
  function pushNow(): Promise<void> {
    // `.finally` runs after the assignment even when the run ends at once (an empty queue).
    pushing ??= pushAll().finally(() => {
      pushing = null;
    });
    return pushing;
  }
  /** The certificate a record was issued under (each one held is kept in the mirror by its serial). */
  const certificateOf = (r: ProvisionalIssuance) => mirror.certificate(r.certificateSerial) ?? {};
  if (held) mirror.keepCertificate(held.certificate);

  let pulling: Promise<void> | null = null;
  /** Brings the mirror and the revocation list up to date; a revoked desk drops its certificate. */
  async function pullAll(): Promise<void> {
    // Revocation is final: a revoked desk only pushes (to learn what became of its cards).
    if (!sync || store.getSnapshot().context.revoked) return;
    for (;;) {
      const r = await pullPage(sync, mirror.cursor);
      if (!r.ok) {
        if (r.status === 403) revoked(`pull refused: ${r.reason}`);
        else store.trigger.problem({ problem: `mirror not pulled: ${r.reason}` });
        log('mirror not pulled', { reason: r.reason });
        return;
      }
      mirror.applyPull(r);
      // One certificate revoked (not the desk): dropped, and a new one asked for.
      if (held && mirror.certificateRevoked(held.certificate.serial)) {
        held = null;
        rmSync(certificateFile, { force: true });
        store.trigger.problem({ problem: 'this desk’s certificate was revoked; a new one is asked for' });
        void renewing();
      }
      offlineStats();
      if (!r.more) return;
    }
  }
  function pullNow(): Promise<void> {
    pulling ??= pullAll().finally(() => {
      pulling = null;
    });
    return pulling;
  }
  /** The service refuses the desk itself (revoked): final, it issues nothing more and stops asking. */
  function revoked(why: string): void {
    held = null;
    rmSync(certificateFile, { force: true });
    store.trigger.revoked({ reason: why });
    store.trigger.problem({ problem: why });
  }

  /**
   * Issues a card with the service out of reach: checked against the certificate and the mirror, signed and
   * recorded before the card is written, encoded at most once, then queued for the next push.
   */
  async function issueOffline(req: OfflineIssueRequest): Promise<ProvisionalView> {
    const prepared = prepareOffline({
      req,
      held,
      mirror,
      key,
      agentId: config.agentId,
      propertyId: config.propertyId,
      // The service's time, as the last handshake measured the desk's clock against it.
      now: new Date(Date.now() - (held?.clockSkewMs ?? 0)),
    });
    const { record } = prepared;
    mirror.addProvisional(record);
    const r = await encodeOnce({
      operationId: offlineOp(record.id),
      ...(req.encoderId ? { encoderId: req.encoderId } : {}),
      data: prepared.data,
      rooms: [],
      validFrom: record.validFrom,
      validUntil: record.validUntil,
      timeoutMs: config.offlineEncodeTimeoutMs ?? 60_000,
    });
    if (r?.ok) mirror.updateProvisional(record.id, { state: 'encoded', uid: r.uid });
    else if (r && r.nothingWritten)
      mirror.updateProvisional(record.id, { state: 'void', problem: `${r.failure}: ${r.reason}` });
    else
      mirror.updateProvisional(record.id, {
        state: 'uncertain',
        problem: r ? `${r.failure}: ${r.reason}` : 'still encoding',
      });
    offlineStats();
    void pushNow().catch((e: unknown) => log('push failed', { err: String(e) }));
    const now = mirror.provisional().find((p) => p.record.id === record.id);
    if (!now) throw new OfflineIssueError('ENCODE_FAILED', 'the provisional card was not recorded');
    if (now.state === 'void')
      throw new OfflineIssueError('ENCODE_FAILED', now.problem ?? 'nothing was written');
    return provisionalView(now);
  }

  const subscribe = (c: NatsConnection) => {
    const sub = c.subscribe(`${prefix}.cmd.>`);
    const loop = (async () => {
      for await (const m of sub) {
        const name = m.subject.slice(`${prefix}.cmd.`.length);
        let body: unknown;
        try {
          body = m.json();
        } catch {
          emit('command_refused', { command: name, reason: 'not JSON' });
          continue;
        }
        if (name === 'encode' && checkEncode.Check(body)) void encode(body as Static<typeof EncodeCommand>);
        else if (name === 'read' && checkRead.Check(body)) void read(body as Static<typeof ReadCommand>);
        else if (name === 'erase' && checkRead.Check(body)) void erase(body as Static<typeof ReadCommand>);
        else if (name === 'operation' && checkOperation.Check(body)) {
          // What this desk did for an operation, from its journal: lets the service close a grant it never saw.
          const { operationId: op, nonce } = body as Static<typeof OperationQuery>;
          const e = inFlight.has(op) ? { state: 'encoding' as const } : journal.get(op);
          emit('operation_state', {
            operationId: op,
            ...(nonce ? { nonce } : {}),
            state: e?.state ?? 'none',
            ...(e?.state === 'done' ? { uid: e.uid } : {}),
            ...(e?.state === 'failed' ? { nothingWritten: e.nothingWritten === true } : {}),
          });
        } else {
          const check =
            name === 'encode' ? checkEncode : name === 'read' || name === 'erase' ? checkRead : null;
          const why = check ? [...check.Errors(body)][0] : undefined;
          emit('command_refused', {
            command: name.slice(0, 40),
            reason: check
              ? `${why?.instancePath ?? ''} ${why?.message ?? 'invalid'}`.trim()
              : 'unknown command',
          });
        }
      }
    })();
    return { sub, loop };
  };

  let stopped = false;
  let commands: ReturnType<typeof subscribe> | null = null;
  /** Connects to NATS (retrying for as long as it takes), then listens for commands and says hello. */
  const online = (async () => {
    let c: NatsConnection | undefined;
    // Tried until it connects or the agent stops (a desk may start with the service out of reach).
    while (!c && !stopped) {
      try {
        c = await connect({
          servers: config.nats.servers,
          name: `lock-agent-${config.agentId}`,
          // Replies come only to this agent's own inbox prefix (its NATS permissions allow nothing else).
          inboxPrefix: `_INBOX_${config.agentId}`,
          maxReconnectAttempts: -1,
          ...(config.nats.user ? { user: config.nats.user, pass: config.nats.pass ?? '' } : {}),
          ...(config.nats.nkey ? { authenticator: deviceKeyAuthenticator(key) } : {}),
          ...(config.nats.tls ? { tls: config.nats.tls } : {}),
        });
      } catch (e) {
        log('NATS not reachable yet', { err: String(e) });
        await delay(2000);
      }
    }
    if (!c) return;
    if (stopped) {
      await c.close();
      return;
    }
    nc = c;
    store.trigger.connection({ connected: true });
    void (async () => {
      for await (const s of c.status()) {
        if (s.type === 'disconnect') store.trigger.connection({ connected: false });
        if (s.type === 'reconnect') {
          store.trigger.connection({ connected: true });
          // Back online: what was issued meanwhile goes to the service at once.
          void syncNow();
        }
      }
    })();
    await c.flush();
    commands = subscribe(c);
    await hello();
  })();
  online.catch((e: unknown) => log('NATS connection failed', { err: String(e) }));
  // A desk that starts with the service out of reach starts all the same (offline issuance works); it joins
  // NATS when it can.
  await Promise.race([online.catch(() => {}), delay(config.nats.startWaitMs ?? 10_000)]);

  // Offline-issuance certificates: one now, then renewed while online (each lives 24 h).
  const renew = async () => {
    if (!sync || store.getSnapshot().context.revoked) return;
    const r = await renewCertificate({ ...sync, file: certificateFile });
    if (r.ok) {
      held = r.held;
      mirror.keepCertificate(r.held.certificate);
      store.trigger.certificate({ serial: r.held.certificate.serial, notAfter: r.held.certificate.notAfter });
    } else {
      if (r.status === 403) revoked(r.reason);
      store.trigger.problem({ problem: r.reason });
    }
    log(r.ok ? 'offline-issuance certificate renewed' : 'offline-issuance certificate not renewed', {
      ...(r.ok ? { notAfter: r.held.certificate.notAfter } : { reason: r.reason }),
    });
  };
  /** Push first (what the desk issued), then pull (what changed), then a fresh certificate. */
  async function syncNow(): Promise<void> {
    await pushNow().catch((e: unknown) => log('push failed', { err: String(e) }));
    await pullNow().catch((e: unknown) => log('pull failed', { err: String(e) }));
  }
  const renewing = () => renew().catch((e: unknown) => log('certificate renewal failed', { err: String(e) }));
  // Not awaited: a desk that starts offline starts all the same (it keeps the certificate it had).
  void renewing().then(() => syncNow());
  const timers = [
    config.sync ? setInterval(() => void renewing(), config.sync.renewEveryMs ?? 3_600_000) : null,
    config.sync ? setInterval(() => void syncNow(), config.sync.syncEveryMs ?? 30_000) : null,
    setInterval(() => {
      const encs = Object.values(store.getSnapshot().context.encoders).map((e) => ({
        id: e.id,
        online: e.online,
      }));
      emit('heartbeat', { encoders: encs, encoding: store.getSnapshot().context.encoding.length });
    }, config.heartbeatMs ?? 15_000),
  ];

  return {
    store,
    publicKey: key.publicKey,
    issueOffline,
    provisional: () => mirror.provisional().map(provisionalView),
    syncNow,
    async stop() {
      stopped = true;
      for (const t of timers) if (t) clearInterval(t);
      if (commands) {
        commands.sub.unsubscribe();
        await commands.loop.catch(() => {});
      }
      // Draining waits for the server; a desk offline would wait for ever: closed instead after a while.
      if (nc) await Promise.race([nc.drain(), delay(3000).then(() => nc?.close())]).catch(() => {});
      await pushing?.catch(() => {});
      await pulling?.catch(() => {});
      await Promise.all([...encoders.values()].map((e) => e.close()));
      mirror.close();
      journal.close();
    },
  };
}
