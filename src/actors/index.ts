export { type ActorKind, actorKinds } from './actorKinds.ts';
export { ActorHost } from './actorHost.ts';
export type { ActorEnvelope } from './envelope.ts';
export { actorEventSchemas } from './eventSchemas.ts';
export { type ActorMailbox, createActorMailbox } from './mailbox.ts';
export { publishNotification, type StateNotification, StateWatcher } from './notifications.ts';
export {
  type ActorAddress,
  type ActorType,
  actorSubject,
  partitionOf,
  SUBJECT_TOKEN,
} from './partitioning.ts';
export {
  type JournaledHandOver,
  type Runtime,
  type RuntimeDeps,
  type RuntimeOptions,
  startRuntime,
} from './runtime.ts';
