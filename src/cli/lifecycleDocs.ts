/** The machines docs/lifecycle.md shows, and the command that regenerates its diagrams and tables. */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  credentialEventTypes,
  credentialMachine,
  grantEventTypes,
  grantMachine,
  lockDeviceEventTypes,
  lockDeviceMachine,
  propertyEventTypes,
  propertyMachine,
  reservationEventTypes,
  reservationMachine,
  staffEventTypes,
  staffMachine,
  vendorSwitchEventTypes,
  vendorSwitchMachine,
} from '../machines/index.ts';
import { lifecycleBlocks, renderLifecycleDoc } from '../machines/lifecycleDoc.ts';

export const LIFECYCLE_DOC = 'docs/lifecycle.md';

export const documentedMachines = [
  { name: 'credential', machine: credentialMachine, events: credentialEventTypes },
  { name: 'grant', machine: grantMachine, events: grantEventTypes },
  { name: 'reservation', machine: reservationMachine, events: reservationEventTypes },
  { name: 'staff', machine: staffMachine, events: staffEventTypes },
  { name: 'vendorSwitch', machine: vendorSwitchMachine, events: vendorSwitchEventTypes },
  { name: 'lockDevice', machine: lockDeviceMachine, events: lockDeviceEventTypes },
  { name: 'property', machine: propertyMachine, events: propertyEventTypes },
] as const;

/** Rewrites the generated blocks of docs/lifecycle.md; true when anything changed. */
export function writeLifecycleDoc(path = LIFECYCLE_DOC): boolean {
  const before = readFileSync(path, 'utf8');
  const after = renderLifecycleDoc(before, lifecycleBlocks(documentedMachines));
  if (after !== before) writeFileSync(path, after);
  return after !== before;
}
