export {
  type CredentialContext,
  type CredentialEvent,
  credentialEventTypes,
  type CredentialSnapshot,
  type CredentialStatus,
  credentialMachine,
  credentialStatus,
  newPinRefs,
  pinRef,
  type Holder,
  type IssueCredentialEvent,
} from './credential.ts';
export { type Grant, grantStatus, holdsItsCredential } from './credentialGrants.ts';
export {
  type GrantContext,
  type GrantEvent,
  grantEventTypes,
  grantMachine,
  STALLED_RETRY_CAP_MS,
} from './grant.ts';
export {
  type DomainEventIntent,
  type EffectError,
  type EffectIntent,
  type EffectOutcomeEvent,
  effectDone,
  effectFailed,
  type GrantTarget,
  type IssueGrantIntent,
  type KeyKind,
  keyKinds,
  type MessageIntent,
  type RevokeGrantIntent,
  type TimerIntent,
  type VendorIntent,
  type VendorIntentName,
} from './intents.ts';
export {
  type LockDeviceContext,
  type LockDeviceEvent,
  type LockDeviceSnapshot,
  type LockDeviceStatus,
  lockDeviceMachine,
  lockDeviceStatus,
} from './lockDevice.ts';
export {
  type KeyKindPolicy,
  type PropertyContext,
  type PropertyEvent,
  type PropertySnapshot,
  propertyMachine,
  type VendorAdapterSetting,
} from './property.ts';
export { initialStep, persistedSnapshot, step } from './pureTransition.ts';
export { defaultRetryPolicy, type RetryPolicy } from './retryPolicy.ts';
export {
  isLater,
  type ReservationContext,
  type ReservationEvent,
  reservationEventTypes,
  reservationMachine,
  type ReservationSnapshot,
  type RoomPlans,
  type StreamOrder,
} from './reservation.ts';
export { lockDeviceEventTypes } from './lockDevice.ts';
export { type AdapterStatus, adapterStatus, propertyEventTypes } from './property.ts';
export {
  type StaffContext,
  type StaffEvent,
  staffEventTypes,
  staffMachine,
  type StaffSnapshot,
} from './staff.ts';
export {
  type SwitchRoom,
  type VendorSwitchContext,
  type VendorSwitchEvent,
  vendorSwitchEventTypes,
  vendorSwitchMachine,
  type VendorSwitchSnapshot,
} from './vendorSwitch.ts';
