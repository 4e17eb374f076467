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
import { randomUUID } from 'node:crypto';
import type { Clock } from '../ids.ts';
import { type Db, withTenant } from '../io/db/index.ts';
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
  state: 'none' | 'encoding' | 'started' | 'done' | 'failed' | 'unknown';
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
  private readonly lastSeen = new Map<string, { boot: string; seq: number }>();
  private readonly identities = new Map<string, { at: number; v: AgentIdentity | null }>();
  /**
   * By `agent:operation`: an answer counts only from the agent the operation was sent to, and reaches every
   * call waiting for it (two doors of one credential ask for the same card at once).
   */
  private readonly waiters = new Map<string, Set<(a: EncodeAnswer) => void>>();
  /** By `agent:operation:nonce`: a state answers only the question that asked for it. */
  private readonly stateWaiters = new Map<string, (s: OperationState) => void>();
  readonly refused = new Map<Refusal, number>();

  constructor(
    private readonly o: {
      nc: NatsConnection;
      root: string;
      agents: DesktopAgents;
      /** The runtime role's pool: which agent each operation went to (`desktop_operations`). */
      db: Db;
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
    const last = this.lastSeen.get(agentId);
    const r = verifyMessage(data, {
      subject,
      agent: id,
      now: this.o.clock.now(),
      ...(last ? { lastSeen: last } : {}),
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
    this.lastSeen.set(m.agentId, { boot: m.boot, seq: m.seq });
    if (id)
      this.presence.set(m.agentId, { tenantId: id.tenantId, propertyId: m.propertyId, lastSeen: Date.now() });
    this.answer(m);
  }

  private answer(m: AgentMessage): void {
    const body = m.body as Record<string, unknown>;
    const op = typeof body.operationId === 'string' ? body.operationId : null;
    if (!op) return;
    if (m.name === 'operation_state') {
      this.stateWaiters.get(`${m.agentId}:${op}:${String(body.nonce ?? '')}`)?.({
        state:
          (['none', 'encoding', 'started', 'done', 'failed'] as const).find((s) => s === body.state) ??
          'started',
        ...(body.nothingWritten === true ? { nothingWritten: true } : {}),
      });
      return;
    }
    const ws = this.waiters.get(`${m.agentId}:${op}`);
    if (!ws) return;
    const w = (a: EncodeAnswer) => {
      for (const f of [...ws]) f(a);
    };
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

  /**
   * The property's active agent heard from most recently (and lately), if any; with `only`, that agent if it
   * is one of them.
   */
  async connectedAgent(tenantId: string, propertyId: string, only?: string): Promise<string | null> {
    const since = Date.now() - (this.o.presenceMs ?? 60_000);
    const candidates = [...this.presence]
      .filter(
        ([agentId, p]) =>
          (!only || agentId === only) &&
          p.tenantId === tenantId &&
          p.propertyId === propertyId &&
          p.lastSeen >= since,
      )
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
   * The agent an encode operation goes to: the one it was first sent to (recorded, so every retry and every
   * process sends it there), or the property's connected agent, recorded now; and whether it is connected.
   * Null when the operation went to no agent and none is connected.
   */
  async agentFor(
    tenantId: string,
    propertyId: string,
    operationId: string,
  ): Promise<{ agentId: string; connected: boolean } | null> {
    const connected = async (agentId: string) => ({
      agentId,
      connected: (await this.connectedAgent(tenantId, propertyId, agentId)) !== null,
    });
    const recorded = await this.recordedAgent(tenantId, operationId);
    if (recorded) return connected(recorded);
    const agentId = await this.connectedAgent(tenantId, propertyId);
    if (!agentId) return null;
    const inserted = await withTenant(this.o.db, tenantId, (tx) =>
      tx
        .insertInto('desktop_operations')
        .values({ tenant_id: tenantId, operation_id: operationId, agent_id: agentId })
        .onConflict((oc) => oc.doNothing())
        .returning('agent_id')
        .executeTakeFirst(),
    );
    if (inserted) return { agentId, connected: true };
    // Another process recorded an agent for it at the same moment: that one is the operation's.
    return connected((await this.recordedAgent(tenantId, operationId)) ?? agentId);
  }

  private async recordedAgent(tenantId: string, operationId: string): Promise<string | null> {
    const r = await withTenant(this.o.db, tenantId, (tx) =>
      tx
        .selectFrom('desktop_operations')
        .select('agent_id')
        .where('operation_id', '=', operationId)
        .executeTakeFirst(),
    );
    return r?.agent_id ?? null;
  }

  /**
   * What the agent an operation was sent to did for it (its journal): `none` when it was never sent to any;
   * `unknown` when that agent is revoked (nothing it says is taken); null when it is not connected or does
   * not answer in time.
   */
  async operationState(
    tenantId: string,
    operationId: string,
    waitMs: number,
  ): Promise<OperationState | null> {
    const agentId = await this.recordedAgent(tenantId, operationId);
    if (!agentId) return { state: 'none' };
    const id = await this.identity(agentId, true);
    if (id?.status !== 'active' || id.tenantId !== tenantId) return { state: 'unknown' };
    const p = this.presence.get(agentId);
    if (!p || p.lastSeen < Date.now() - (this.o.presenceMs ?? 60_000)) return null;
    const nonce = randomUUID();
    const key = `${agentId}:${operationId}:${nonce}`;
    return new Promise<OperationState | null>((resolve) => {
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
        `${this.o.root}.${id.propertyId}.${agentId}.cmd.operation`,
        JSON.stringify({ operationId, nonce }),
      );
    });
  }

  /** Sends an encode to the agent and waits for that operation's answer from it; null when none came in time. */
  async encode(
    target: { propertyId: string; agentId: string },
    cmd: EncodeCommand,
    waitMs: number,
  ): Promise<EncodeAnswer | null> {
    const key = `${target.agentId}:${cmd.operationId}`;
    return new Promise<EncodeAnswer | null>((resolve) => {
      const set = this.waiters.get(key) ?? new Set<(a: EncodeAnswer) => void>();
      this.waiters.set(key, set);
      const done = (a: EncodeAnswer | null) => {
        clearTimeout(timer);
        // Only this call's waiter: another call for the same operation keeps its own.
        set.delete(done);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve(a);
      };
      const timer = setTimeout(() => done(null), waitMs);
      set.add(done);
      this.o.nc.publish(
        `${this.o.root}.${target.propertyId}.${target.agentId}.cmd.encode`,
        JSON.stringify(cmd),
      );
    });
  }
}
