/** pino with redaction: PINs, secrets, card numbers, guest names and tokens never reach the logs. */
import pino from 'pino';
import { activeTraceIds } from './observability/tracing.ts';

export const redactPaths = [
  'pin',
  '*.pin',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'clientSecret',
  '*.clientSecret',
  'cardNumber',
  '*.cardNumber',
  'recipient',
  '*.recipient',
  'doorPins',
  '*.doorPins',
  'preparedPins',
  '*.preparedPins',
  'guestName',
  '*.guestName',
  'req.headers.authorization',
  'authorization',
  '*.authorization',
];

/**
 * Writes to stdout unless given a destination (tests read what would have been logged). A line written inside
 * a span names its trace (`trace_id`, `span_id`): the log of one operation, across processes, is one search.
 */
export function createLogger(level: string, destination?: pino.DestinationStream) {
  const options = {
    level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    mixin: () => activeTraceIds() ?? {},
  };
  return destination ? pino(options, destination) : pino(options);
}
