export { ensureStreams } from './streams.ts';
export { type Topology, topology } from './topology.ts';
