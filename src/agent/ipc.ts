/**
 * The surface an Electron renderer calls (through `ipcMain.handle` / `contextBridge` in the app's main
 * process; nothing here depends on Electron): channel names and their typed handlers. The renderer never
 * holds a USB handle, a key or card data: it reads the agent's state and is told when it changes.
 */
import type { AgentState } from './state.ts';
import type { RunningAgent } from './agent.ts';

export interface AgentIpc {
  /** `agent:status`: the state now. */
  'agent:status'(): AgentState;
  /** `agent:watch`: calls back on every change until the returned function is called. */
  'agent:watch'(listener: (s: AgentState) => void): () => void;
}

export const agentIpcChannels = [
  'agent:status',
  'agent:watch',
] as const satisfies readonly (keyof AgentIpc)[];

export function agentIpc(agent: RunningAgent): AgentIpc {
  return {
    'agent:status': () => agent.store.getSnapshot().context,
    'agent:watch'(listener) {
      const sub = agent.store.subscribe((s) => listener(s.context));
      return () => sub.unsubscribe();
    },
  };
}
