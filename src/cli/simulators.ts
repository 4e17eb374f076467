/** `npm run simulators`: the vendor simulators standalone at their fixed ports, until Ctrl-C. */
import { simulatorSettingsOf } from '../config.ts';
import { ensureSimulators, simulatorPorts } from '../io/vendors/simulators.ts';

let settings: ReturnType<typeof simulatorSettingsOf>;
try {
  settings = simulatorSettingsOf(process.env);
} catch (e) {
  // As `npm start` says it: which setting, without a stack trace.
  console.error(`simulators: not started: ${(e as Error).message}`);
  process.exit(1);
}
const { simulatorBasePort: base, simulatorLocks } = settings;
const sims = await ensureSimulators(base, { startMissing: true, locks: simulatorLocks });
console.log(
  `simulators: ${sims.started.join(', ') || 'already running'}; ports ${JSON.stringify(simulatorPorts(base))}`,
);
process.on('SIGINT', () => void sims.close().then(() => process.exit(0)));
process.on('SIGTERM', () => void sims.close().then(() => process.exit(0)));
