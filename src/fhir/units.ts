/**
 * Reading an R4 Quantity (https://hl7.org/fhir/R4/datatypes.html#Quantity) in a known UCUM
 * unit (https://ucum.org/ucum), converted to the unit the care facts use. Anything that cannot
 * be read with certainty gives a reason instead of a value: a value is never guessed.
 */
import type { Quantity } from '@medplum/fhirtypes';

export const UCUM = 'http://unitsofmeasure.org';

export type Reading = { value: number } | { reason: string };

/**
 * The quantity's value times the factor of its unit in `factors`. The unit is the UCUM `code`
 * when `system` is UCUM, or the `unit` text when there is neither system nor code (many
 * servers send `"unit": "kg"` only); `what` names the quantity in reasons.
 */
export function convertQuantity(
  quantity: Quantity | undefined,
  factors: ReadonlyMap<string, number>,
  what: string,
): Reading {
  const value = numericValue(quantity, what);
  if ('reason' in value) return value;

  const unit = ucumUnit(quantity);
  if ('reason' in unit) return { reason: `${what} ${unit.reason}` };
  const factor = factors.get(unit.code);
  if (factor === undefined) {
    return {
      reason: `${what} has unit ${quote(unit.code)}, not one of ${[...factors.keys()].join(', ')}`,
    };
  }
  return { value: value.value * factor };
}

/** A unitless score: no unit, or one of the UCUM codes for a score in `allowed`. */
export function readScore(
  quantity: Quantity | undefined,
  allowed: ReadonlySet<string>,
  what: string,
): Reading {
  const value = numericValue(quantity, what);
  if ('reason' in value) return value;
  if (quantity?.code === undefined && quantity?.unit === undefined) return value;

  const unit = ucumUnit(quantity);
  if ('reason' in unit) return { reason: `${what} ${unit.reason}` };
  if (!allowed.has(unit.code)) {
    return { reason: `${what} has unit ${quote(unit.code)}, which is not a score` };
  }
  return value;
}

function numericValue(quantity: Quantity | undefined, what: string): Reading {
  const value = quantity?.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return { reason: `${what} has no numeric value` };
  }
  if (quantity?.comparator !== undefined) {
    return { reason: `${what} is a bound (${quantity.comparator}), not a measured value` };
  }
  return { value };
}

function ucumUnit(quantity: Quantity | undefined): { code: string } | { reason: string } {
  const system = quantity?.system;
  const code = quantity?.code?.trim();
  const text = quantity?.unit?.trim();
  if (system !== undefined && system !== UCUM) {
    return { reason: `has a unit from ${quote(system)}, not UCUM` };
  }
  if (code !== undefined && code !== '') return { code };
  if (system === undefined && text !== undefined && text !== '') return { code: text };
  return { reason: 'has no unit' };
}

/** Units come from the record but are not patient data; long ones are cut. */
function quote(text: string): string {
  return JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}…` : text);
}
