/**
 * FHIR R4 dates (https://hl7.org/fhir/R4/datatypes.html#date, #dateTime) turned into the
 * YYYY-MM-DD days the care facts use. A dateTime keeps the day it was recorded on (its own
 * time zone), which is what a clinician reading the record sees.
 */

export const DAYS_PER_MONTH = 30.4375;

const DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?)?)?$/;

export interface PartialDate {
  year: number;
  month?: number;
  day?: number;
}

/** The parts of a FHIR date or dateTime; undefined when malformed or not a calendar date. */
export function parseFhirDate(value: string | undefined): PartialDate | undefined {
  const match = value === undefined ? null : DATE_TIME.exec(value.trim());
  if (match === null) return undefined;
  const [, year, month, day] = match;
  const parts: PartialDate = { year: Number(year) };
  if (month !== undefined) parts.month = Number(month);
  if (day !== undefined) parts.day = Number(day);
  if (parts.month !== undefined && (parts.month < 1 || parts.month > 12)) return undefined;
  if (parts.day !== undefined && toDay(parts) === undefined) return undefined;
  return parts;
}

/** YYYY-MM-DD of a date or dateTime precise to the day; undefined otherwise. */
export function fhirDay(value: string | undefined): string | undefined {
  const parts = parseFhirDate(value);
  return parts === undefined ? undefined : toDay(parts);
}

function toDay(parts: PartialDate): string | undefined {
  if (parts.month === undefined || parts.day === undefined) return undefined;
  const text = `${String(parts.year).padStart(4, '0')}-${pad(parts.month)}-${pad(parts.day)}`;
  const parsed = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(text)
    ? text
    : undefined;
}

/**
 * Whole years from a birth date to `day` (YYYY-MM-DD). A birth date given as a year or a month
 * only gives the lowest age it allows (as if born on its last day), so an age threshold is
 * never passed on a guess. Undefined when the birth date is malformed.
 */
export function ageAt(birthDate: string | undefined, day: string): number | undefined {
  const birth = parseFhirDate(birthDate);
  const on = parseFhirDate(day);
  if (birth === undefined || on?.month === undefined || on.day === undefined) return undefined;

  const month = birth.month ?? 12;
  const dayOfMonth = birth.day ?? daysInMonth(birth.year, month);
  let age = on.year - birth.year;
  if (on.month < month || (on.month === month && on.day < dayOfMonth)) age -= 1;
  return age;
}

/** Months from `from` to `to` (both YYYY-MM-DD), negative when `to` is earlier. */
export function monthsBetween(from: string, to: string): number {
  return (epochDay(to) - epochDay(from)) / DAYS_PER_MONTH;
}

function epochDay(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 86_400_000;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
