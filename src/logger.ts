/** pino with redaction: PINs, secrets, card numbers, guest names and tokens never reach the logs. */
import pino from 'pino';

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

export function createLogger(level: string) {
  return pino({ level, redact: { paths: redactPaths, censor: '[redacted]' } });
}
