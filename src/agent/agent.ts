/**
 * The desktop agent: a Node process (or the main process of the front desk's Electron app, which embeds it)
 * that owns the property's encoders. It listens for its commands on `<root>.<property>.<agent>.cmd.>`,
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
  writeFileSync,
  writeSync,
} from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Compile } from 'typebox/compile';
import Type, { type Static } from 'typebox';
import { type DeviceKey, deviceKeyFromPem, generateDeviceKey, signMessage } from '../desktop/envelope.ts';
import { lineEncoder } from '../io/encoders/lineEncoder.ts';
import { type ByteLink, openSerialLink, openTcpLink } from '../io/encoders/link.ts';
import { onityEncoder } from '../io/encoders/onityEncoder.ts';
import { type Encoder, EncoderError } from '../io/encoders/port.ts';
import { wiegandFormatNames } from '../io/encoders/wiegand.ts';
import { loadHeldCertificate, renewCertificate } from './certificateClient.ts';
import { dataDigest, Journal, type JournalEntry } from './journal.ts';
import { type AgentStore, createAgentStore } from './state.ts';

const SerialPort = Type.Object({
  path: Type.String({ minLength: 1 }),
  baudRate: Type.Optional(Type.Integer()),
});
const EncoderConfig = Type.Union([
  Type.Object({ id: Type.String({ minLength: 1 }), kind: Type.Literal('line'), serial: SerialPort }),
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
  encoders: Type.Array(EncoderConfig, { maxItems: 8 }),
  heartbeatMs: Type.Optional(Type.Integer({ minimum: 100 })),
  /** The service's `/sync/v1` (its base URL): offline-issuance certificates are renewed there while online. */
  sync: Type.Optional(
    Type.Object({
      url: Type.String(),
      renewEveryMs: Type.Optional(Type.Integer({ minimum: 1000 })),
    }),
  ),
});
export type AgentConfig = Static<typeof AgentConfig>;
const checkConfig = Compile(AgentConfig);

const EncodeCommand = Type.Object({
  operationId: Type.String({ minLength: 1, maxLength: 300 }),
  encoderId: Type.Optional(Type.String()),
  data: Type.Union([
    Type.Object({
      format: Type.Union(wiegandFormatNames.map((f) => Type.Literal(f))),
      bits: Type.String({ pattern: '^[01]{26,37}$' }),
    }),
    Type.Null(),
  ]),
  rooms: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 4 }),
  validFrom: Type.String({ format: 'date-time' }),
  validUntil: Type.String({ format: 'date-time' }),
  timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000 }),
});
const ReadCommand = Type.Object({
  requestId: Type.String({ minLength: 1, maxLength: 200 }),
  encoderId: Type.Optional(Type.String()),
  timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000 }),
});
const OperationQuery = Type.Object({
  operationId: Type.String({ minLength: 1, maxLength: 300 }),
  /** Echoed, so the answer is tied to the question. */
  nonce: Type.Optional(Type.String({ maxLength: 64 })),
});
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

export interface RunningAgent {
  store: AgentStore;
  publicKey: string;
  stop(): Promise<void>;
}

export async function startAgent(
  raw: unknown,
  o: { log?: (msg: string, data?: Record<string, unknown>) => void } = {},
): Promise<RunningAgent> {
  if (!checkConfig.Check(raw)) throw new Error(`agent config: ${[...checkConfig.Errors(raw)][0]?.message}`);
  const config = raw as AgentConfig;
  const log = o.log ?? (() => {});
  const key = loadOrCreateDeviceKey(config.deviceKeyFile);
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
    else if (c.tcp) link = await openTcpLink(c.tcp.host, c.tcp.port);
    else if (c.serial) link = await openSerialLink(c.serial.path, c.serial.baudRate);
    else throw new EncoderError('REFUSED', `encoder ${c.id}: neither serial nor tcp`);
    const e =
      c.kind === 'line'
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

  const nc: NatsConnection = await connect({
    servers: config.nats.servers,
    name: `lock-agent-${config.agentId}`,
    // Replies come only to this agent's own inbox prefix (its NATS permissions allow nothing else).
    inboxPrefix: `_INBOX_${config.agentId}`,
    maxReconnectAttempts: -1,
    ...(config.nats.user ? { user: config.nats.user, pass: config.nats.pass ?? '' } : {}),
    ...(config.nats.tls ? { tls: config.nats.tls } : {}),
  });
  store.trigger.connection({ connected: true });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') store.trigger.connection({ connected: false });
      if (s.type === 'reconnect') store.trigger.connection({ connected: true });
    }
  })();

  const emit = (name: string, body: Record<string, unknown>) => {
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

  async function encode(cmd: Static<typeof EncodeCommand>): Promise<void> {
    const op = cmd.operationId;
    if (inFlight.has(op)) return; // Being encoded now: its answer will come.
    const prior = journal.get(op);
    if (prior?.state === 'done') {
      emit('card_encoded', { operationId: op, uid: prior.uid, again: true });
      return;
    }
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
          emit('card_encoded', { operationId: op, uid: written.uid, encoderId: id, again: true });
          store.trigger.encodeEnded({ op, ok: true });
          return;
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
      emit('card_encoded', { operationId: op, uid: card.uid, encoderId: id, again: false });
      store.trigger.encodeEnded({ op, ok: true });
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
        if (err.failure === 'OFFLINE')
          store.trigger.encoderSeen({ id: encoderId, model: null, online: false, error: err.message });
        emit('encode_failed', {
          operationId: op,
          encoderId,
          failure: err.failure,
          retryable: err.retryable || !nothingWritten,
          nothingWritten,
          reason: err.message.slice(0, 300),
        });
      } catch (fatal) {
        log('could not record or answer a failed encode', { err: String(fatal) });
      }
      store.trigger.encodeEnded({ op, ok: false, problem: `${err.failure}: ${err.message}` });
    } finally {
      inFlight.delete(op);
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

  await nc.flush();
  // Earlier writes settled first: a command sent again meanwhile must find the journal as it is now.
  await settleUnfinished();
  const sub = nc.subscribe(`${prefix}.cmd.>`);
  const commands = (async () => {
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
        const check = name === 'encode' ? checkEncode : name === 'read' ? checkRead : null;
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

  await hello();
  // Offline-issuance certificates: one now, then renewed while online (each lives 24 h).
  const certificateFile = `${config.journalFile}.certificate.json`;
  const held = loadHeldCertificate(certificateFile);
  if (held)
    store.trigger.certificate({ serial: held.certificate.serial, notAfter: held.certificate.notAfter });
  const renew = async () => {
    if (!config.sync) return;
    const r = await renewCertificate({
      url: config.sync.url,
      key,
      agentId: config.agentId,
      propertyId: config.propertyId,
      boot,
      seq: ++seq,
      file: certificateFile,
    });
    if (r.ok)
      store.trigger.certificate({ serial: r.held.certificate.serial, notAfter: r.held.certificate.notAfter });
    else store.trigger.problem({ problem: r.reason });
    log(r.ok ? 'offline-issuance certificate renewed' : 'offline-issuance certificate not renewed', {
      ...(r.ok ? { notAfter: r.held.certificate.notAfter } : { reason: r.reason }),
    });
  };
  // Not awaited: a desk that starts offline starts all the same (it keeps the certificate it had).
  const renewing = () => renew().catch((e: unknown) => log('certificate renewal failed', { err: String(e) }));
  void renewing();
  const renewal = config.sync
    ? setInterval(() => void renewing(), config.sync.renewEveryMs ?? 3_600_000)
    : null;
  const beat = setInterval(() => {
    const encs = Object.values(store.getSnapshot().context.encoders).map((e) => ({
      id: e.id,
      online: e.online,
    }));
    emit('heartbeat', { encoders: encs, encoding: store.getSnapshot().context.encoding.length });
  }, config.heartbeatMs ?? 15_000);

  return {
    store,
    publicKey: key.publicKey,
    async stop() {
      clearInterval(beat);
      if (renewal) clearInterval(renewal);
      sub.unsubscribe();
      await commands.catch(() => {});
      await nc.drain().catch(() => {});
      await Promise.all([...encoders.values()].map((e) => e.close()));
      journal.close();
    },
  };
}
