/**
 * Stay dates relative to now, for tests that run the real service on the system clock. The service arms an
 * expiry timer at a credential's `validUntil`, so a stay written as fixed dates expires right after issue once
 * the wall clock passes them, and a test expecting `active` (or a window held at the vendor) fails on its own.
 */
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface StayDates {
  /** Check-in: tomorrow (UTC) at 14:00 UTC — ahead of now, as the tests were written with. */
  checkIn: string;
  /** Check-out after two nights: 11:00 UTC two days after check-in. */
  checkOut: string;
  /** Check-out after `n` nights: 11:00 UTC `n` days after check-in (a later one extends the stay). */
  nights(n: number): string;
  /** `hourUtc`:00 UTC on the day `n` days after check-in's (negative: before it). */
  day(n: number, hourUtc: number): string;
}

/**
 * One stay, computed once from `now`: every date of it on whole UTC hours (whole milliseconds, `.000Z`), so
 * each vendor's wire format holds them exactly and a test can compare what the vendor holds to these strings.
 * Call it once per test or file and reuse the result: two calls either side of midnight UTC differ.
 */
export function stayDates(now: number = Date.now()): StayDates {
  const checkInDay = (Math.floor(now / DAY_MS) + 1) * DAY_MS;
  const day = (n: number, hourUtc: number) =>
    new Date(checkInDay + n * DAY_MS + hourUtc * HOUR_MS).toISOString();
  const nights = (n: number) => day(n, 11);
  return { checkIn: day(0, 14), checkOut: nights(2), nights, day };
}
