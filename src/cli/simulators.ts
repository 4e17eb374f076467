/** `npm run simulators`: the vendor simulators standalone at their fixed ports, until Ctrl-C. */
import { ensureSimulators, simulatorPorts } from '../io/vendors/simulators.ts';

const base = Number(process.env.SIMULATOR_BASE_PORT ?? 18080);
const sims = await ensureSimulators(base, { startMissing: true });
console.log(
  `simulators: ${sims.started.join(', ') || 'already running'}; ports ${JSON.stringify(simulatorPorts(base))}`,
);
process.on('SIGINT', () => void sims.close().then(() => process.exit(0)));
process.on('SIGTERM', () => void sims.close().then(() => process.exit(0)));
