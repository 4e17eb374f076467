/**
 * The agent's local state, as the desk's window shows it: connection, encoders, what is being encoded, the
 * last problem. An @xstate/store: the agent's parts send it events, and the Electron renderer (through the
 * IPC surface) reads and subscribes to snapshots. Nothing secret is in it (no card data, no keys).
 */
import { createStore } from '@xstate/store';

export interface EncoderStatus {
  id: string;
  kind: string;
  model: string | null;
  online: boolean;
  lastError: string | null;
}

export interface AgentState {
  connected: boolean;
  encoders: Record<string, EncoderStatus>;
  /** Operations being encoded now (their ids). */
  encoding: string[];
  encoded: number;
  failed: number;
  lastProblem: string | null;
  /** The offline-issuance certificate held (its serial and end), or none. */
  certificate: { serial: string; notAfter: string } | null;
  /** Provisional cards issued here: waiting for a push, accepted, rejected; credentials mirrored. */
  offline: { pending: number; accepted: number; rejected: number; mirrored: number };
  /** Why the service refuses this desk, once it has said so (its certificate is dropped). */
  revoked: string | null;
}

export function createAgentStore(encoders: { id: string; kind: string }[]) {
  return createStore({
    context: {
      connected: false,
      encoders: Object.fromEntries(
        encoders.map((e) => [e.id, { id: e.id, kind: e.kind, model: null, online: false, lastError: null }]),
      ),
      encoding: [],
      encoded: 0,
      failed: 0,
      lastProblem: null,
      certificate: null,
      offline: { pending: 0, accepted: 0, rejected: 0, mirrored: 0 },
      revoked: null,
    } as AgentState,
    on: {
      connection: (c, e: { connected: boolean }) => ({ ...c, connected: e.connected }),
      certificate: (c, e: { serial: string; notAfter: string }) => ({
        ...c,
        certificate: { serial: e.serial, notAfter: e.notAfter },
      }),
      problem: (c, e: { problem: string }) => ({ ...c, lastProblem: e.problem }),
      offline: (c, e: AgentState['offline']) => ({
        ...c,
        offline: { pending: e.pending, accepted: e.accepted, rejected: e.rejected, mirrored: e.mirrored },
      }),
      revoked: (c, e: { reason: string }) => ({ ...c, revoked: e.reason, certificate: null }),
      encoderSeen: (c, e: { id: string; model: string | null; online: boolean; error?: string }) => {
        const before = c.encoders[e.id];
        if (!before) return c;
        return {
          ...c,
          encoders: {
            ...c.encoders,
            [e.id]: {
              ...before,
              model: e.model ?? before.model,
              online: e.online,
              lastError: e.error ?? null,
            },
          },
        };
      },
      encodeStarted: (c, e: { op: string }) => ({ ...c, encoding: [...c.encoding, e.op] }),
      encodeEnded: (c, e: { op: string; ok: boolean; problem?: string }) => ({
        ...c,
        encoding: c.encoding.filter((x) => x !== e.op),
        encoded: c.encoded + (e.ok ? 1 : 0),
        failed: c.failed + (e.ok ? 0 : 1),
        lastProblem: e.ok ? c.lastProblem : (e.problem ?? null),
      }),
    },
  });
}

export type AgentStore = ReturnType<typeof createAgentStore>;
