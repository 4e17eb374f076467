export { createTtlockAdapter, passcodeName, type TtlockConfig } from './adapter.ts';
export { startTtlockSimulator, TTLOCK_SIM_DEFAULTS, type TtlockSimulator } from './simulator.ts';
