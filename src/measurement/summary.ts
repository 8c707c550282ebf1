/**
 * What is kept of a joint-space width measurement (jsw.ts) once the image is gone: per
 * compartment the minimum width or why there is none, in the unit the calibration allowed.
 * This is what the database stores, the API answers and FHIR and progression read.
 */
import type { CompartmentWidth, JswResult } from './jsw.js';

export interface CompartmentSummary {
  /** Minimum width in `unit`, when measured. */
  min?: number;
  /** Why there is no number, when there is none. */
  reason?: string;
}

export interface JswSummary {
  /** `mm` from the image's pixel spacing; `px` when the spacing is unknown. */
  unit: 'mm' | 'px';
  medial: CompartmentSummary;
  lateral: CompartmentSummary;
  /** 0..1; below 0.6 the numbers deserve a second look. */
  quality: number;
  notes: string[];
}

/** The summary of a measurement; undefined with the reason when nothing could be measured. */
export function summariseJsw(result: JswResult): JswSummary | { refused: string } {
  if (result.status === 'refused') return { refused: result.detail };
  const compartment = (c: CompartmentWidth): CompartmentSummary =>
    c.status === 'measured' ? { min: round2(c.minWidth) } : { reason: c.detail };
  return {
    unit: result.unit,
    medial: compartment(result.medial),
    lateral: compartment(result.lateral),
    quality: round2(result.quality),
    notes: result.notes,
  };
}

/** Minimum widths in millimetres, for FHIR and progression: none unless the unit is mm. */
export function millimetres(summary: JswSummary | { refused: string } | null | undefined): {
  medialMinMm?: number;
  lateralMinMm?: number;
} {
  if (summary === null || summary === undefined || 'refused' in summary) return {};
  if (summary.unit !== 'mm') return {};
  return {
    ...(summary.medial.min === undefined ? {} : { medialMinMm: summary.medial.min }),
    ...(summary.lateral.min === undefined ? {} : { lateralMinMm: summary.lateral.min }),
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
