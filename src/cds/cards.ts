/**
 * CDS Hooks cards (CDS Hooks 2.0, Card Attributes: https://cds-hooks.hl7.org/2.0/#card-attributes)
 * for the recommendations of one knee: pure builders, the uuid generator and the day given.
 *
 * One card per recommendation. `summary` names the knee, its AI grade and the advice (under 140
 * characters); `detail` is markdown with the clinician explanation, the facts that triggered
 * the rule, cautions, disagreement between the sources, the missing data, on what record the
 * advice rests, and the statement that the grade is unverified AI output. `indicator` is `info`
 * for recommend, consider and refer, `warning` for avoid and flag; `critical` is never used:
 * nothing here is urgent enough to interrupt the clinician's work. `source` names the
 * guidelines and links the first that has a URL; `links` go to the report of the study and to
 * each cited guideline. Cards carry no suggestions (nothing is ordered from a card).
 */
import type { Recommendation } from '../care/engine.js';
import type { Guideline, RuleKind } from '../care/rules.js';
import type { KneeEvaluation } from './evaluate.js';
import type { CdsKneeResult } from './results.js';

export type Indicator = 'info' | 'warning' | 'critical';

export interface CdsLink {
  label: string;
  url: string;
  type: 'absolute' | 'smart';
}

export interface CdsCard {
  uuid: string;
  summary: string;
  detail: string;
  indicator: Indicator;
  source: { label: string; url?: string };
  links: CdsLink[];
}

/** "<140 characters" (CDS Hooks 2.0, Card.summary). */
export const MAX_SUMMARY_LENGTH = 139;

export const AI_STATEMENT =
  'The Kellgren–Lawrence grade is the output of an AI model and has not yet been verified by a radiologist. This is decision support for the clinician and does not replace clinical judgement.';

const INDICATORS: Record<RuleKind, Indicator> = {
  recommend: 'info',
  consider: 'info',
  refer: 'info',
  avoid: 'warning',
  flag: 'warning',
};

const KNEE_NAMES = { R: 'Right', L: 'Left' } as const;

export interface CardContext {
  result: CdsKneeResult;
  evaluation: KneeEvaluation;
  guidelines: ReadonlyMap<string, Guideline>;
  /** The absolute URL of the study's report. */
  reportUrl: string;
  /** YYYY-MM-DD. */
  today: string;
  uuid: () => string;
}

export function kneeCards(context: CardContext): CdsCard[] {
  return context.evaluation.proposal.recommendations.map((rec) => card(rec, context));
}

function card(rec: Recommendation, context: CardContext): CdsCard {
  const { result, guidelines } = context;
  const cited = [...new Set(rec.sources.map((s) => s.guideline))];
  const urls = cited.flatMap((name) => {
    const url = guidelines.get(name)?.url;
    return url === undefined ? [] : [{ name, url }];
  });
  const first = urls[0];

  return {
    uuid: context.uuid(),
    summary: summary(rec, result),
    detail: detail(rec, context),
    indicator: INDICATORS[rec.kind],
    source: {
      label: `jointspace: ${cited.join(', ')}`,
      ...(first === undefined ? {} : { url: first.url }),
    },
    links: [
      {
        label: `jointspace report: ${kneeName(result)} knee, study of ${studyDay(result) ?? 'unknown date'}`,
        url: context.reportUrl,
        type: 'absolute',
      },
      ...urls.map(({ name, url }): CdsLink => ({ label: name, url, type: 'absolute' })),
    ],
  };
}

function summary(rec: Recommendation, result: CdsKneeResult): string {
  const text = `${kneeName(result)} knee, KL ${result.klGrade} (AI): ${rec.title}`;
  return text.length <= MAX_SUMMARY_LENGTH ? text : `${text.slice(0, MAX_SUMMARY_LENGTH - 1)}…`;
}

function detail(rec: Recommendation, context: CardContext): string {
  const { result, evaluation } = context;
  const proposal = evaluation.proposal;
  const missing = [
    ...rec.missing,
    ...proposal.missing.filter((m) => !m.rules.includes(rec.id)).map((m) => m.message),
  ];
  const suppressed = proposal.suppressed.map(
    (s) => `${s.id} ${s.title} (held back by ${s.by.join(', ')})`,
  );

  const sections = [
    `**${kneeName(result)} knee: Kellgren–Lawrence grade ${result.klGrade}** (study of ${studyDay(result) ?? 'unknown date'}, model ${result.modelId})`,
    `> ${AI_STATEMENT}`,
    rec.clinicianExplanation,
    rec.triggeredBy.length === 0
      ? ''
      : `**Triggered by:** ${rec.triggeredBy.map((f) => f.text).join('; ')}`,
    rec.cautions.length === 0 ? '' : `**Cautions:** ${rec.cautions.join(' ')}`,
    rec.disagreement === undefined ? '' : `**Sources disagree:** ${rec.disagreement}`,
    list('**Missing data:**', missing),
    list('**Held back for this knee:**', suppressed),
    basis(context),
  ];
  return sections.filter((s) => s !== '').join('\n\n');
}

function basis(context: CardContext): string {
  const { evaluation, result, today } = context;
  const rules = `care rules ${evaluation.proposal.rulesVersion} (${evaluation.proposal.rulesStatus})`;
  if (evaluation.basis === 'stored') {
    return `**Basis:** the proposal made when the study was graded, for ${evaluation.proposal.asOf} (result recorded ${day(result.recordedAt)}), ${rules}. Today's record was not evaluated: ${evaluation.because}. Conditions or treatments recorded since then are not reflected.`;
  }

  const lines = [
    `**Basis:** evaluated on ${today} from the record the EHR sent with this request, ${rules}.`,
  ];
  if (evaluation.carriedRules.length > 0) {
    lines.push(
      `Progression (${evaluation.carriedRules.join(', ')}) is as assessed when the study was graded (result recorded ${day(result.recordedAt)}): it depends on the images only.`,
    );
  }
  if (evaluation.ignored.length > 0) {
    const shown = evaluation.ignored.slice(0, 5).map((i) => `${i.resource}: ${i.reason}`);
    const more = evaluation.ignored.length - shown.length;
    lines.push(
      `Values of the record not used: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}.`,
    );
  }
  return lines.join(' ');
}

function list(heading: string, items: string[]): string {
  if (items.length === 0) return '';
  return `${heading}\n\n${items.map((item) => `- ${item}`).join('\n')}`;
}

function kneeName(result: CdsKneeResult): string {
  return KNEE_NAMES[result.laterality];
}

/** The study date as YYYY-MM-DD (DICOM DA YYYYMMDD is converted). */
function studyDay(result: CdsKneeResult): string | undefined {
  const value = result.studyDate;
  if (value === undefined) return undefined;
  const dicom = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  return dicom === null ? value : `${dicom[1] ?? ''}-${dicom[2] ?? ''}-${dicom[3] ?? ''}`;
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}
