/**
 * The service's side of the desktop agents: it hears every agent message (`<root>.*.*.evt.>`), keeps only
 * those that verify (signature, subject, enrolled and active agent, age, sequence), knows which agents of a
 * property are connected (hello and heartbeats), and sends commands: an encode waits for that operation's
 * answer. A message that does not verify is refused with its reason and counted; it changes nothing.
 *
 * An encode is safe to send again: the agent answers an operation it did from its journal. So a caller that
 * gets no answer in time (TIMEOUT, retryable) sends the same operation later and the card is written once.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Clock } from '../ids.ts';
import type { AgentIdentity, DesktopAgents } from './agents.ts';
import { type AgentMessage, type Refusal, verifyMessage } from './envelope.ts';

export interface EncodeCommand {
  operationId: string;
  data: { format: string; bits: string } | null;
  rooms: string[];
  validFrom: string;
  validUntil: string;
  timeoutMs: number;
}

/** What an agent's journal says of an operation. */
export interface OperationState {
  state: 'none' | 'encoding' | 'started' | 'done' | 'failed';
  nothingWritten?: boolean;
}

export type EncodeAnswer =
  | { ok: true; uid: string; agentId: string }
  | { ok: false; failure: string; retryable: boolean; reason: string; agentId: string };

interface Presence {
  tenantId: string;
  propertyId: string;
  lastSeen: number;
}

export class DesktopBus {
  private sub: Subscription | null = null;
  private readonly presence = new Map<string, Presence>();
  private readonly lastSeq = new Map<string, { boot: string; seq: number }>();
  private readonly identities = new Map<string, { at: number; v: AgentIdentity | null }>();
  private readonly waiters = new Map<string, (a: EncodeAnswer) => void>();
  private readonly stateWaiters = new Map<string, (s: OperationState) => void>();
  readonly refused = new Map<Refusal, number>();

  constructor(
    private readonly o: {
      nc: NatsConnection;
      root: string;
      agents: DesktopAgents;
      clock: Clock;
      /** An agent not heard for this long is not counted as connected. */
      presenceMs?: number;
      log?: (msg: string, data?: Record<string, unknown>) => void;
    },
  ) {}

  start(): void {
    this.sub = this.o.nc.subscribe(`${this.o.root}.*.*.evt.>`);
    void (async () => {
      for await (const m of this.sub as Subscription) await this.hear(m.subject, m.data).catch(() => {});
    })();
  }

  async stop(): Promise<void> {
    this.sub?.unsubscribe();
  }

  /**
   * An agent's identity. Its messages are checked against one cached for a second (a revocation refuses
   * them within a second everywhere); a command is sent only after a fresh look (`fresh`).
   */
  private async identity(agentId: string, fresh = false): Promise<AgentIdentity | null> {
    const now = this.o.clock.now().getTime();
    const c = this.identities.get(agentId);
    if (c && !fresh && now - c.at < 1000) return c.v;
    const v = await this.o.agents.identity(agentId);
    this.identities.set(agentId, { at: now, v });
    return v;
  }

  private async hear(subject: string, data: Uint8Array): Promise<void> {
    const parts = subject.split('.');
    const agentId = parts[parts.lastIndexOf('evt') - 1] ?? '';
    const id = /^[A-Za-z0-9_-]{1,64}$/.test(agentId) ? await this.identity(agentId) : null;
    const last = this.lastSeq.get(agentId);
    let boot: string | undefined;
    try {
      boot = (JSON.parse(Buffer.from(data).toString('utf8')) as { boot?: string }).boot;
    } catch {
      boot = undefined;
    }
    const r = verifyMessage(data, {
      subject,
      agent: id,
      now: this.o.clock.now(),
      ...(last && last.boot === boot ? { lastSeq: last.seq } : {}),
    });
    if (!r.ok) {
      this.refused.set(r.refusal, (this.refused.get(r.refusal) ?? 0) + 1);
      this.o.log?.('desktop message refused', {
        agentId: agentId.slice(0, 64),
        refusal: r.refusal,
        reason: r.reason,
      });
      return;
    }
    const m = r.message;
    this.lastSeq.set(m.agentId, { boot: m.boot, seq: m.seq });
    if (id)
      this.presence.set(m.agentId, { tenantId: id.tenantId, propertyId: m.propertyId, lastSeen: Date.now() });
    this.answer(m);
  }

  private answer(m: AgentMessage): void {
    const body = m.body as Record<string, unknown>;
    const op = typeof body.operationId === 'string' ? body.operationId : null;
    if (!op) return;
    if (m.name === 'operation_state') {
      this.stateWaiters.get(`${m.agentId}:${op}`)?.({
        state:
          (['none', 'encoding', 'started', 'done', 'failed'] as const).find((s) => s === body.state) ??
          'started',
        ...(body.nothingWritten === true ? { nothingWritten: true } : {}),
      });
      return;
    }
    const w = this.waiters.get(op);
    if (!w) return;
    if (m.name === 'card_encoded' && typeof body.uid === 'string')
      w({ ok: true, uid: body.uid, agentId: m.agentId });
    else if (m.name === 'encode_failed')
      w({
        ok: false,
        failure: String(body.failure ?? 'PROTOCOL'),
        retryable: body.retryable === true,
        reason: String(body.reason ?? '').slice(0, 300),
        agentId: m.agentId,
      });
  }

  /** The property's active agent heard from most recently (and lately), if any. */
  async connectedAgent(tenantId: string, propertyId: string): Promise<string | null> {
    const since = Date.now() - (this.o.presenceMs ?? 60_000);
    const candidates = [...this.presence]
      .filter(([, p]) => p.tenantId === tenantId && p.propertyId === propertyId && p.lastSeen >= since)
      .sort((a, b) => b[1].lastSeen - a[1].lastSeen);
    for (const [agentId] of candidates) {
      // Revoked since it was last heard: never given a command again.
      const id = await this.identity(agentId, true);
      if (id?.status === 'active' && id.tenantId === tenantId) return agentId;
      this.presence.delete(agentId);
    }
    return null;
  }

  /**
   * What every enrolled agent of the property did for an operation (their journals): null when one of them
   * is not connected or does not answer in time, since it may be the one that wrote the card.
   */
  async operationStates(
    tenantId: string,
    propertyId: string,
    operationId: string,
    waitMs: number,
  ): Promise<OperationState[] | null> {
    const agents = (await this.o.agents.list(tenantId, propertyId)).filter((a) => a.status === 'active');
    const since = Date.now() - (this.o.presenceMs ?? 60_000);
    if (agents.some((a) => (this.presence.get(a.id)?.lastSeen ?? 0) < since)) return null;
    const answers = await Promise.all(
      agents.map(
        (a) =>
          new Promise<OperationState | null>((resolve) => {
            const key = `${a.id}:${operationId}`;
            const timer = setTimeout(() => {
              this.stateWaiters.delete(key);
              resolve(null);
            }, waitMs);
            this.stateWaiters.set(key, (s) => {
              clearTimeout(timer);
              this.stateWaiters.delete(key);
              resolve(s);
            });
            this.o.nc.publish(
              `${this.o.root}.${propertyId}.${a.id}.cmd.operation`,
              JSON.stringify({ operationId }),
            );
          }),
      ),
    );
    return answers.some((x) => x === null) ? null : (answers as OperationState[]);
  }

  /** Sends an encode to the agent and waits for that operation's answer; null when none came in time. */
  async encode(
    target: { propertyId: string; agentId: string },
    cmd: EncodeCommand,
    waitMs: number,
  ): Promise<EncodeAnswer | null> {
    return new Promise<EncodeAnswer | null>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(cmd.operationId);
        resolve(null);
      }, waitMs);
      this.waiters.set(cmd.operationId, (a) => {
        clearTimeout(timer);
        this.waiters.delete(cmd.operationId);
        resolve(a);
      });
      this.o.nc.publish(
        `${this.o.root}.${target.propertyId}.${target.agentId}.cmd.encode`,
        JSON.stringify(cmd),
      );
    });
  }
}
