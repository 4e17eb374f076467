/** `npm run agent -- --config agent.json`: the desktop agent as a process of its own. */
import { readFileSync } from 'node:fs';
import { startAgent } from './agent.ts';

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
const stop = () => {
  void agent.stop().finally(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
