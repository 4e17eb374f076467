/**
 * The surface an Electron renderer calls (through `ipcMain.handle` / `contextBridge` in the app's main
 * process; nothing here depends on Electron): channel names and their typed handlers. The renderer never
 * holds a USB handle, a key or card data: it reads the agent's state and is told when it changes.
 */
import type { AgentState } from './state.ts';
import type { RunningAgent } from './agent.ts';
import type { ProvisionalView } from './mirror.ts';
import { OfflineIssueError, type OfflineIssueRequest } from './offlineIssuer.ts';

export interface AgentIpc {
  /** `agent:status`: the state now. */
  'agent:status'(): AgentState;
  /** `agent:watch`: calls back on every change until the returned function is called. */
  'agent:watch'(listener: (s: AgentState) => void): () => void;
  /**
   * `agent:issueOffline`: a card issued with the service out of reach (a provisional credential): the card's
   * view, or why not (`problem`: NO_CERTIFICATE, CERTIFICATE_EXPIRED, REVOKED, OUT_OF_SCOPE, ROOM_TAKEN,
   * NO_CARD_FORMAT, INVALID, ENCODE_FAILED). The renderer passes the card number once; it is never read back.
   */
  'agent:issueOffline'(
    req: OfflineIssueRequest,
  ): Promise<{ ok: true; card: ProvisionalView } | { ok: false; problem: string; reason: string }>;
  /** `agent:provisional`: the provisional cards issued here, and what reconciliation said of each. */
  'agent:provisional'(): ProvisionalView[];
  /** `agent:sync`: push the provisional cards and pull the mirror now (the desk's "sync" button). */
  'agent:sync'(): Promise<void>;
}

export const agentIpcChannels = [
  'agent:status',
  'agent:watch',
  'agent:issueOffline',
  'agent:provisional',
  'agent:sync',
] as const satisfies readonly (keyof AgentIpc)[];

export function agentIpc(agent: RunningAgent): AgentIpc {
  return {
    'agent:status': () => agent.store.getSnapshot().context,
    'agent:watch'(listener) {
      const sub = agent.store.subscribe((s) => listener(s.context));
      return () => sub.unsubscribe();
    },
    async 'agent:issueOffline'(req) {
      try {
        return { ok: true, card: await agent.issueOffline(req) };
      } catch (e) {
        if (e instanceof OfflineIssueError) return { ok: false, problem: e.problem, reason: e.message };
        return { ok: false, problem: 'ENCODE_FAILED', reason: String(e) };
      }
    },
    'agent:provisional': () => agent.provisional(),
    'agent:sync': () => agent.syncNow(),
  };
}
