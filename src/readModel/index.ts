export { type DeviceInRoom, type Plan, planTargets } from './planTargets.ts';
export {
  type CredentialView,
  createReadModel,
  type IssueContext,
  issueContextOf,
  type LockDeviceView,
  type Page,
  type PropertyView,
  type ReadModel,
  type ReservationStay,
  reservationStayIn,
} from './readModel.ts';
