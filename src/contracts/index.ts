export { actorInboxMessage } from './actorInbox.ts';
export {
  type AsyncApiChannel,
  type AsyncApiDocument,
  type AsyncApiMessage,
  type AsyncApiOperation,
  buildAsyncApi,
  type JsonSchema,
  jsonSchemaOf,
} from './asyncapi.ts';
export { breakingChanges } from './compatibility.ts';
export {
  closed,
  credentialStatuses,
  lockDeviceStatuses,
  type PublishedEvent,
  type PublishedEventName,
  publishedEventName,
  publishedEventProblem,
  publishedEventSchemas,
  PUBLISHED_VERSION,
  vendorSwitchStatuses,
} from './publishedEvents.ts';
export { serviceVersion } from './serviceVersion.ts';
export { stableJson } from './stableJson.ts';
export { assertPublishedEvent, strictEvents } from './strictEvents.ts';
