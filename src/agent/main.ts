/**
 * `npm run agent -- --config agent.json [--ipc stdio]`: the desktop agent as a process of its own; with
 * `--ipc stdio` its IPC surface is served over standard input and output (`stdioIpc.ts`).
 */
import { readFileSync } from 'node:fs';
import { startAgent } from './agent.ts';
import { agentIpc } from './ipc.ts';
import { serveStdioIpc } from './stdioIpc.ts';

const at = process.argv.indexOf('--config');
const file = at >= 0 ? process.argv[at + 1] : undefined;
if (!file) {
  process.stderr.write('usage: npm run agent -- --config agent.json\n');
  process.exit(2);
}
const log = (msg: string, data?: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), msg, ...data })}\n`);
const agent = await startAgent(JSON.parse(readFileSync(file, 'utf8')), { log });
log('agent started', { publicKey: agent.publicKey });
if (process.argv[process.argv.indexOf('--ipc') + 1] === 'stdio' && process.argv.includes('--ipc'))
  serveStdioIpc(agentIpc(agent), process.stdin, process.stdout);
const stop = () => {
  void agent.stop().finally(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
