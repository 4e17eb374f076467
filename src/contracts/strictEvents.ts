/**
 * The published-event check of the test runs: with `LOCK_STRICT_EVENTS=1` (vitest.config.ts sets it for every
 * test) an event that does not match its schema throws when its commit is built, so every event any test
 * publishes is checked. Production leaves it unset and pays one call of an empty function per event.
 *
 * The variable is read once, at module load: a switch of the process, not a setting of the service (the
 * composition root does not see it).
 */
import { publishedEventProblem } from './publishedEvents.ts';

/**
 * Whether this process checks every published event: `LOCK_STRICT_EVENTS=1`, and only under vitest. A throw in a
 * commit retries and finally rejects the message it applies (an answer from a vendor lost with it), so a
 * production process must never throw here, whatever its environment says.
 */
export const strictEvents = process.env.LOCK_STRICT_EVENTS === '1' && process.env.VITEST === 'true';

function assertMatches(subject: string, payload: unknown): void {
  const problem = publishedEventProblem(subject, payload);
  if (problem === null) return;
  const message = `published event ${subject} does not match its schema: ${problem}`;
  // Also on stderr: a throw inside an actor's commit reaches a test as a timeout, its message only in logs.
  console.error(message);
  throw new Error(message);
}

/**
 * Throws an Error naming the subject and the problem when strict and `payload` is not a valid event for
 * `subject` (or no schema exists for it); does nothing otherwise.
 */
export const assertPublishedEvent: (subject: string, payload: unknown) => void = strictEvents
  ? assertMatches
  : () => {};
