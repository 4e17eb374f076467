export { createSaltoSpaceAdapter, type SaltoSpaceConfig } from './adapter.ts';
export { SALTO_SPACE_SIM_DEFAULTS, type SaltoSpaceSimulator, startSaltoSpaceSimulator } from './simulator.ts';
