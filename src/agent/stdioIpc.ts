/**
 * The IPC surface over standard input and output, one JSON object per line, for a host that embeds the agent
 * as a child process rather than in its own main process: `{"id": 1, "channel": "agent:status", "args": []}`
 * in, `{"reply": 1, "result": …}` (or `"error"`) out. `agent:watch` is not offered (no callbacks over a pipe;
 * poll `agent:status`). `npm run agent -- --config agent.json --ipc stdio`.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { AgentIpc } from './ipc.ts';

type Callable = Exclude<keyof AgentIpc, 'agent:watch'>;
const callable: readonly Callable[] = [
  'agent:status',
  'agent:issueOffline',
  'agent:provisional',
  'agent:sync',
];

export function serveStdioIpc(ipc: AgentIpc, input: Readable, output: Writable): void {
  const reply = (m: Record<string, unknown>) => output.write(`${JSON.stringify(m)}\n`);
  createInterface({ input }).on('line', (line) => {
    let m: { id?: unknown; channel?: unknown; args?: unknown };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      reply({ reply: null, error: 'not JSON' });
      return;
    }
    const id = typeof m.id === 'number' || typeof m.id === 'string' ? m.id : null;
    const channel = callable.find((c) => c === m.channel);
    if (!channel) {
      reply({ reply: id, error: `no channel ${String(m.channel).slice(0, 40)}` });
      return;
    }
    const args = Array.isArray(m.args) ? m.args : [];
    const call = ipc[channel] as (...a: unknown[]) => unknown;
    Promise.resolve()
      .then(() => call(...args))
      .then(
        (result) => reply({ reply: id, result: result ?? null }),
        (e: unknown) => reply({ reply: id, error: e instanceof Error ? e.message : String(e) }),
      );
  });
}
