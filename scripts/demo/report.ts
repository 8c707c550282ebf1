/**
 * What the demo shows on the terminal: a progress block (one line per study, redrawn in place
 * on a terminal, printed line by line when a line changes otherwise) and the summary table.
 */

/** The parts of `GET /api/studies/{uid}` the demo reads. */
export interface StudyBody {
  status: string;
  knees: {
    laterality: 'R' | 'L';
    klGrade: number;
    confidence: number;
    jsw?: {
      unit: string | null;
      medialMinMm?: number;
      lateralMinMm?: number;
      medialMinPx?: number;
      lateralMinPx?: number;
      reason?: string;
    };
  }[];
  refusals: { reason: string }[];
  carePlan: { status: string; reason: string | null } | null;
  recommendations: { id: string; laterality: 'R' | 'L'; title: string }[];
  progression: {
    laterality: 'R' | 'L';
    baselineStudyDate: string;
    klChange?: number;
    medialJswChangeMm?: number;
    flags: string[];
  }[];
}

export interface StudyRow {
  /** 1-based, as numbered on screen. */
  number: number;
  patient: string;
  /** `YYYY-MM-DD`. */
  studyDate: string;
  /** What the study shows, e.g. "left knee". */
  shows: string;
  studyInstanceUid: string;
  /** Where the study stands, in words. */
  state: string;
  body?: StudyBody;
  done: boolean;
}

const CARE_FINAL = new Set(['written', 'unmatched', 'ambiguous', 'failed']);

/** Whether nothing more will happen to the study without someone acting. */
export function isFinal(body: StudyBody): boolean {
  if (body.status === 'refused' || body.status === 'failed') return true;
  return body.status === 'graded' && body.carePlan !== null && CARE_FINAL.has(body.carePlan.status);
}

/** The state of a study in a few words, from its API answer. */
export function describe(body: StudyBody): string {
  const knees = body.knees.map((k) => `${k.laterality} KL ${k.klGrade}`).join(', ');
  switch (body.status) {
    case 'graded': {
      const care = body.carePlan;
      if (care === null) return `graded (${knees}); care plan queued`;
      if (care.status === 'written') {
        return `graded (${knees}); care plan written, ${body.recommendations.length} recommendation${body.recommendations.length === 1 ? '' : 's'}`;
      }
      return `graded (${knees}); care plan ${care.status}${care.reason === null ? '' : `: ${care.reason}`}`;
    }
    case 'refused':
      return `refused: ${body.refusals.map((r) => r.reason).join('; ')}`;
    case 'failed':
      return 'failed (see the job history in the console)';
    default:
      return `${body.status}…`;
  }
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** The progress block: redrawn in place on a terminal, else a line for each change. */
export class Progress {
  private drawn = 0;
  private tick = 0;
  private readonly printed = new Map<number, string>();
  private readonly started = Date.now();

  constructor(
    private readonly rows: StudyRow[],
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {}

  private line(row: StudyRow): string {
    const mark = row.done ? '✓' : (SPINNER[this.tick % SPINNER.length] ?? '·');
    const who = `${row.patient}, ${row.studyDate}, ${row.shows}`;
    return `  ${this.out.isTTY ? `${mark} ` : ''}[${row.number}/${this.rows.length}] ${who}: ${row.state}`;
  }

  render(): void {
    this.tick++;
    if (this.out.isTTY) {
      const width = this.out.columns > 20 ? this.out.columns - 1 : 120;
      const done = this.rows.filter((r) => r.done).length;
      const seconds = Math.round((Date.now() - this.started) / 1000);
      const lines = [
        `  ${done}/${this.rows.length} studies done, ${seconds} s`,
        ...this.rows.map((row) => this.line(row)),
      ].map((text) => (text.length > width ? `${text.slice(0, width - 1)}…` : text));
      let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
      for (const l of lines) text += `\x1b[2K${l}\n`;
      this.out.write(text);
      this.drawn = lines.length;
      return;
    }
    for (const row of this.rows) {
      const text = this.line(row);
      if (this.printed.get(row.number) === text) continue;
      this.printed.set(row.number, text);
      this.out.write(`${text}\n`);
    }
  }
}

function jsw(knee: StudyBody['knees'][number]): string {
  const value = knee.jsw;
  if (value === undefined) return '—';
  const fixed = (n: number | undefined) => (n === undefined ? '—' : n.toFixed(1));
  if (value.unit === 'mm') return `M ${fixed(value.medialMinMm)} / L ${fixed(value.lateralMinMm)}`;
  if (value.unit === 'px') {
    return `M ${fixed(value.medialMinPx)} / L ${fixed(value.lateralMinPx)} px`;
  }
  return 'not measured';
}

function progression(body: StudyBody, side: 'R' | 'L'): string {
  const change = body.progression.find((p) => p.laterality === side);
  if (change === undefined) return '—';
  const parts: string[] = [];
  if (change.klChange !== undefined) {
    parts.push(
      `KL ${change.klChange >= 0 ? '+' : ''}${change.klChange} since ${change.baselineStudyDate}`,
    );
  }
  if (change.medialJswChangeMm !== undefined) {
    parts.push(`medial JSW ${change.medialJswChangeMm.toFixed(1)} mm`);
  }
  if (change.flags.length > 0) parts.push(`FLAG ${change.flags.join(', ')}`);
  return parts.length === 0 ? `compared with ${change.baselineStudyDate}` : parts.join('; ');
}

const MAX_RECOMMENDATION = 52;

/** The summary: one row per knee graded (or per study when none was), as a text table. */
export function summaryTable(rows: StudyRow[]): string {
  const header = [
    '#',
    'Patient',
    'Study date',
    'Knee',
    'KL',
    'JSW min (mm)',
    'Top recommendation',
    'Progression',
  ];
  const table: string[][] = [];
  for (const row of rows) {
    const body = row.body;
    if (body === undefined || body.knees.length === 0) {
      table.push([
        String(row.number),
        row.patient,
        row.studyDate,
        row.shows,
        '—',
        '—',
        row.state,
        '—',
      ]);
      continue;
    }
    for (const knee of body.knees) {
      const top = body.recommendations.find((r) => r.laterality === knee.laterality);
      const more = body.recommendations.filter((r) => r.laterality === knee.laterality).length - 1;
      let recommendation =
        top === undefined
          ? `— (care plan ${body.carePlan?.status ?? 'none'})`
          : `${top.id} ${top.title}${more > 0 ? ` (+${more})` : ''}`;
      if (recommendation.length > MAX_RECOMMENDATION) {
        recommendation = `${recommendation.slice(0, MAX_RECOMMENDATION - 1)}…`;
      }
      table.push([
        String(row.number),
        row.patient,
        row.studyDate,
        knee.laterality === 'R' ? 'right' : 'left',
        String(knee.klGrade),
        jsw(knee),
        recommendation,
        progression(body, knee.laterality),
      ]);
    }
  }
  const widths = header.map((h, i) =>
    Math.max(h.length, ...table.map((cells) => (cells[i] ?? '').length)),
  );
  const format = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [format(header), rule, ...table.map(format)].join('\n');
}
