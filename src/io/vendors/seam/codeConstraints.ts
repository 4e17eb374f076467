/**
 * Whether a PIN suits a Seam device, by what the device reports (`properties.supported_code_lengths`,
 * `properties.code_constraints`; constraint types from `seamapi/types`, access-code capability properties).
 * A length the device does not take fails every PIN of that length (INVALID); a constraint about the digits
 * is about this PIN (DUPLICATE: the credential moves to its next one); a device that chooses its own codes
 * cannot take the service's PIN at all (NOT_SUPPORTED).
 */
import { VendorError } from '../port.ts';

export interface SeamCodeRules {
  supported_code_lengths?: number[];
  code_constraints?: { constraint_type: string }[];
}

const digitRules: Record<string, (pin: string) => boolean> = {
  no_zeros: (p) => p.includes('0'),
  cannot_start_with_12: (p) => p.startsWith('12'),
  no_triple_consecutive_ints: (p) =>
    [...p].some((_, i) => {
      const [a, b, c] = [p[i], p[i + 1], p[i + 2]].map(Number);
      return (
        c !== undefined &&
        !Number.isNaN(c) &&
        ((b === (a ?? 0) + 1 && c === b + 1) || (b === (a ?? 0) - 1 && c === b - 1))
      );
    }),
  no_ascending_or_descending_sequence: (p) => {
    const d = [...p].map(Number);
    const steps = new Set(d.slice(1).map((x, i) => x - (d[i] ?? 0)));
    return steps.size === 1 && (steps.has(1) || steps.has(-1));
  },
  at_least_three_unique_digits: (p) => new Set(p).size < 3,
  cannot_contain_089: (p) => p.includes('089'),
  cannot_contain_0789: (p) => p.includes('0789'),
};

/** Throws the failure for a PIN the device will not take; returns when it will. */
export function checkPinForDevice(pin: string, rules: SeamCodeRules): void {
  const lengths = rules.supported_code_lengths;
  if (lengths && lengths.length > 0 && !lengths.includes(pin.length))
    throw new VendorError(
      'INVALID',
      `seam device takes codes of ${lengths.join(' or ')} digits, not ${pin.length}`,
    );
  for (const { constraint_type: type } of rules.code_constraints ?? []) {
    if (type === 'cannot_specify_pin_code')
      throw new VendorError('NOT_SUPPORTED', 'seam device chooses its own codes (cannot_specify_pin_code)');
    if (digitRules[type]?.(pin))
      throw new VendorError('DUPLICATE', `seam device refuses this code (${type})`);
  }
}
