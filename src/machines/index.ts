export {
  type CredentialContext,
  type CredentialEvent,
  type CredentialSnapshot,
  type CredentialStatus,
  credentialMachine,
  credentialStatus,
  type Holder,
  type IssueCredentialEvent,
} from './credential.ts';
export type { Grant, GrantStatus } from './credentialGrants.ts';
export {
  type DomainEventIntent,
  type EffectError,
  type EffectOutcomeEvent,
  effectDone,
  effectFailed,
  type GrantTarget,
  type IssueGrantIntent,
  type KeyKind,
  keyKinds,
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
export { defaultRetryPolicy, type RetryPolicy } from './retryPolicy.ts';
