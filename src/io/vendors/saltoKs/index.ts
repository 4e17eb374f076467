export { createSaltoKsAdapter, type SaltoKsConfig } from './adapter.ts';
export { SALTO_KS_SIM_DEFAULTS, type SaltoKsSimulator, startSaltoKsSimulator } from './simulator.ts';
