export { createSeamAdapter, fromSeam, type SeamConfig } from './adapter.ts';
export { SEAM_FAKE_API_KEY, type SeamFake, startSeamFake } from './simulator.ts';
