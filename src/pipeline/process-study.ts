/**
 * One run of the pipeline over one study: find its instances (QIDO-RS), keep the eligible ones,
 * fetch and decode them (WADO-RS), grade them, measure the joint-space width of each graded
 * knee, write the SR and the overlays back (STOW-RS), and record everything in the store.
 *
 * Failures are sorted here. A problem with one image (undecodable, not a knee, wrong view) is
 * recorded as that image's refusal and the others go on. A failure of the PACS or the database
 * is transient and thrown, so the job is retried; it leaves nothing half-written that a retry
 * would duplicate, because every object written has a UID derived from its inputs.
 */
import { createHash } from 'node:crypto';
import type { DicomWebClient, InstanceReference } from '../dicomweb/client.js';
import { firstNumber, firstString, tags, type DicomJsonDataset } from '../dicomweb/json.js';
import { JointspaceError } from '../errors.js';
import type { GradedImage, Grader } from '../grading/grader.js';
import type { KneeCheckVerdict } from '../grading/knee-check.js';
import { LATERALITY_MIN_CONFIDENCE, type LateralityModel } from '../grading/laterality.js';
import { cropPointToImage, localiseKnees, type LocalisedKnee } from '../grading/localise.js';
import { loadImage } from '../imaging/load.js';
import type { DecodedImage } from '../imaging/types.js';
import type { Logger } from '../log.js';
import type { AlgorithmIdentity, ImageRegion, SourceHeader, SourceImage } from '../sr/dataset.js';
import { modelId } from '../sr/dataset.js';
import { measureJointSpace } from '../measurement/jsw.js';
import { millimetres, summariseJsw, type JswSummary } from '../measurement/summary.js';
import { isoDate, type ProgressionAssessment } from '../care/progression.js';
import { kneeProgressions, type ProgressionSources } from './knee-progression.js';
import { buildMeasurementReport, jswLengths, type JswLength } from '../sr/measurement-report.js';
import { buildOverlay } from '../sr/overlay.js';
import { measurementReportUids, overlayUids } from '../sr/uids.js';
import type { KneeLaterality, StudyStatus } from '../store/entities.js';
import { derivePatientKey, type Store } from '../store/repository.js';
import { assessInstance, type EligibilityRules, type InstanceAttributes } from './eligibility.js';
import type { StudyJob } from './job.js';

/** Stages timed for the metrics. */
export type Stage = 'fetch' | 'decode' | 'grade' | 'measure' | 'build' | 'store' | 'total';

export interface StageObserver {
  observeStage(stage: Stage, seconds: number): void;
  imageFinished(outcome: 'graded' | 'refused' | 'failed'): void;
}

export interface StudyProcessorOptions {
  dicomweb: DicomWebClient;
  store: Store;
  grader: Grader;
  /** Tells the knee from the pixels when the header does not; without it such images are refused. */
  laterality?: LateralityModel;
  rules: EligibilityRules;
  patientKeySecret: string;
  logger: Logger;
  observer?: StageObserver;
  /** Where STOW-RS writes, for the audit trail (credentials are stripped there). */
  destination: string;
  /**
   * Where the patient's earlier results are found, for the comparison group of the SR; without
   * it the SR has no comparison.
   */
  progression?: Omit<ProgressionSources, 'logger'>;
  clock?: () => Date;
}

export type RunStatus = StudyStatus | 'skipped' | 'not-found';

export interface StudyRun {
  status: RunStatus;
  /** Why nothing was done, for `skipped` and `not-found`. */
  note?: string;
  graded: number;
  refused: number;
  /** SOP Instance UIDs written back to the PACS. */
  written: string[];
}

/** QIDO-RS return keys the pipeline reads (beyond Orthanc's defaults, asked for explicitly). */
const INCLUDE_FIELDS = [
  tags.SOPClassUID,
  tags.SOPInstanceUID,
  tags.SeriesInstanceUID,
  tags.Modality,
  tags.InstanceNumber,
  '00180015', // BodyPartExamined
  '00185101', // ViewPosition
  '00080070', // Manufacturer
  '00200062', // ImageLaterality
  '00200060', // Laterality
  '00100010', // PatientName
  '00100020', // PatientID
  '00100021', // IssuerOfPatientID
  '00100030', // PatientBirthDate
  '00100040', // PatientSex
  '00080020', // StudyDate
  '00080030', // StudyTime
  '00080050', // AccessionNumber
  '00080090', // ReferringPhysicianName
  '00200010', // StudyID
] as const;

interface Candidate {
  reference: InstanceReference;
  attributes: InstanceAttributes;
  dataset: DicomJsonDataset;
  instanceNumber: number;
  laterality?: KneeLaterality | 'B';
}

interface Decoded {
  candidate: Candidate;
  /** What is graded: the image itself, or one knee's crop of an image of both knees. */
  decoded: DecodedImage;
  /** For a knee found on an image of both knees: where, and the whole image. */
  found?: { knee: LocalisedKnee & { laterality: KneeLaterality }; source: DecodedImage };
}

export class StudyProcessor {
  private readonly clock: () => Date;

  constructor(private readonly options: StudyProcessorOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  get algorithm(): AlgorithmIdentity {
    const { name, version, sha256 } = this.options.grader.model.manifest;
    return { name, version, sha256 };
  }

  async run(job: StudyJob): Promise<StudyRun> {
    const started = performance.now();
    const { store, logger } = this.options;
    const studyUid = job.studyInstanceUid;
    const model = modelId(this.algorithm);

    const found = await this.timed('fetch', () =>
      this.options.dicomweb.searchForInstances({
        studyInstanceUid: studyUid,
        includeFields: INCLUDE_FIELDS,
      }),
    );
    if (found.length === 0) {
      const note = 'the PACS has no instances of this study (deleted, or never stored)';
      if ((await store.findStudy(studyUid)) !== undefined) {
        await store.beginAttempt(studyUid);
        await store.recordProblem({
          studyInstanceUid: studyUid,
          kind: 'error',
          code: 'not-in-pacs',
          reason: note,
          permanent: true,
        });
        await store.finishAttempt(studyUid, 'failed', null);
      }
      return { status: 'not-found', note, ...empty() };
    }

    const ownSeries = new Set([
      measurementReportUids(studyUid, model).seriesInstanceUid,
      overlayUids(studyUid, '0', model).seriesInstanceUid,
    ]);
    const eligible: Candidate[] = [];
    const ineligible: { candidate: Candidate; reason: string }[] = [];
    for (const dataset of found) {
      const candidate = toCandidate(studyUid, dataset);
      if (candidate === undefined) continue;
      const verdict = assessInstance(this.options.rules, candidate.attributes, ownSeries);
      if (verdict.eligible) eligible.push(candidate);
      else if (!verdict.own) ineligible.push({ candidate, reason: verdict.reason });
    }
    eligible.sort((a, b) => a.instanceNumber - b.instanceNumber);
    if (eligible.length === 0 && ineligible.length === 0) {
      return { status: 'skipped', note: 'the study holds only jointspace output', ...empty() };
    }

    const inputs = inputsDigest(model, eligible, ineligible);
    const known = await store.findStudy(studyUid);
    if (!job.force && known?.gradedInputs === inputs) {
      return { status: 'skipped', note: 'these images were already processed', ...empty() };
    }

    const first = found[0] ?? {};
    const patientId = firstString(first, '00100020');
    const patientKey =
      patientId === undefined || patientId === ''
        ? undefined
        : derivePatientKey(
            this.options.patientKeySecret,
            firstString(first, '00100021') ?? '',
            patientId,
          );
    await store.beginAttempt(studyUid, patientKey, studyDateOf(first));

    let refused = 0;
    for (const { candidate, reason } of ineligible) {
      await this.refuse(candidate, 'not-eligible', reason, 'refused');
      refused++;
    }

    const decoded: Decoded[] = [];
    for (const candidate of eligible) {
      // The image row is written with its outcome (graded, refused, failed), not before.
      const bytes = await this.timed('fetch', () =>
        this.options.dicomweb.retrieveInstance(candidate.reference, { transferSyntax: '*' }),
      );
      try {
        const image = await this.timed('decode', () =>
          loadImage(bytes, `instance ${candidate.instanceNumber}`),
        );
        decoded.push({ candidate, decoded: image });
      } catch (error) {
        if (!(error instanceof JointspaceError) || !error.permanent) throw error;
        await this.refuse(candidate, error.code, `cannot be read: ${error.message}`, 'failed');
        refused++;
      }
    }

    // An image of both knees (Image Laterality B) is graded knee by knee, on crops. A full
    // radiograph of one knee is found after the knee check has refused it as a whole.
    const units: Decoded[] = [];
    for (const entry of decoded) {
      if (entry.candidate.laterality !== 'B') {
        units.push(entry);
        continue;
      }
      const knees = await this.timed('grade', () => Promise.resolve(this.localise(entry)));
      if (typeof knees === 'string') {
        await this.refuse(entry.candidate, 'no-knee-joint-found', knees, 'refused');
        refused++;
        continue;
      }
      units.push(...knees);
    }
    decoded.splice(0, decoded.length, ...units);

    const graded: { entry: Decoded; outcome: GradedImage; laterality: KneeLaterality }[] = [];
    const outcomes = await this.timed('grade', () =>
      this.options.grader.grade(decoded.map((entry) => entry.decoded)),
    );
    const accepted: { entry: Decoded; outcome: GradedImage }[] = [];
    for (const [index, entry] of decoded.entries()) {
      const outcome = outcomes[index];
      if (outcome === undefined) continue;
      if (outcome.status === 'graded') {
        accepted.push({ entry, outcome });
        continue;
      }
      // Not a knee crop: it may be a full radiograph of the knee (with the long bones). The
      // knee found on it, if any, is graded instead; otherwise the knee check's reason stands.
      const found =
        entry.found === undefined && refusedByPixelsOnly(outcome.kneeCheck)
          ? await this.gradeFound(entry)
          : [];
      if (found.length > 0) {
        accepted.push(...found);
        continue;
      }
      await this.refuse(
        entry.candidate,
        'not-a-knee-radiograph',
        outcome.kneeCheck.reason,
        'refused',
        {
          verdict: 'refused',
          reason: outcome.kneeCheck.reason,
          score: outcome.kneeCheck.score,
        },
      );
      refused++;
    }
    const sides = await this.sides(accepted.map((item) => item.entry));
    for (const [index, { entry, outcome }] of accepted.entries()) {
      const side = sides[index];
      if (side === undefined || typeof side === 'string') {
        await this.refuse(
          entry.candidate,
          'laterality-unknown',
          side ?? 'no laterality',
          'refused',
        );
        refused++;
        continue;
      }
      graded.push({ entry, outcome, laterality: side.laterality });
    }
    const measured = await this.timed('measure', () => Promise.resolve(graded.map(measure)));

    const written: string[] = [];
    if (graded.length > 0) {
      const comparisons = await this.comparisons(studyUid, first, measured, model);
      written.push(...(await this.writeBack(studyUid, first, measured, eligible, comparisons)));
    }

    const status: StudyStatus = graded.length > 0 ? 'graded' : 'refused';
    await store.finishAttempt(studyUid, status, inputs);
    this.options.observer?.observeStage('total', (performance.now() - started) / 1000);
    logger.info('study.processed', { status, graded: graded.length, refused });
    return { status, graded: graded.length, refused, written };
  }

  private async writeBack(
    studyUid: string,
    first: DicomJsonDataset,
    graded: MeasuredKnee[],
    eligible: Candidate[],
    comparisons: ReadonlyMap<KneeLaterality, ProgressionAssessment>,
  ): Promise<string[]> {
    const { store } = this.options;
    const algorithm = this.algorithm;
    const model = modelId(algorithm);
    const header = sourceHeader(studyUid, first);
    const when = this.clock();
    const decodedBySop = new Map(
      graded.map((g) => [
        g.entry.candidate.reference.sopInstanceUid,
        g.entry.found?.source ?? g.entry.decoded,
      ]),
    );
    const sources = eligible
      .filter((candidate) => decodedBySop.has(candidate.reference.sopInstanceUid))
      .map((candidate) => {
        const image = decodedBySop.get(candidate.reference.sopInstanceUid);
        return sourceImage(candidate, image);
      });

    const built = await this.timed('build', async () => {
      const report = buildMeasurementReport({
        header,
        images: sources,
        knees: graded.map((g) => ({
          sopInstanceUid: g.entry.candidate.reference.sopInstanceUid,
          laterality: g.laterality,
          grading: g.outcome,
          ...onWholeImage(g),
          ...withComparison(comparisons.get(g.laterality)),
        })),
        algorithm,
        contentDateTime: when,
      });
      const overlays: Uint8Array[] = [];
      for (const [index, g] of graded.entries()) {
        const source = sources.find(
          (s) => s.sopInstanceUid === g.entry.candidate.reference.sopInstanceUid,
        );
        if (source === undefined) continue;
        overlays.push(
          await buildOverlay({
            header,
            source,
            image: g.entry.decoded.image,
            grading: g.outcome,
            algorithm,
            contentDateTime: when,
            instanceNumber: index + 1,
            ...(g.lengths.length === 0 ? {} : { jsw: g.lengths }),
            ...(g.entry.found === undefined ? {} : { knee: g.laterality }),
          }),
        );
      }
      return { report, overlays };
    });

    const response = await this.timed('store', () =>
      this.options.dicomweb.storeInstances([built.report, ...built.overlays], {
        studyInstanceUid: studyUid,
      }),
    );
    if (response.failed.length > 0) {
      const reasons = response.failed
        .map((f) =>
          f.failureReason === undefined ? 'unknown' : `0x${f.failureReason.toString(16)}`,
        )
        .join(', ');
      throw new JointspaceError(
        'pacs-rejected',
        `the PACS refused ${response.failed.length} of the objects written back (failure reasons ${reasons})`,
      );
    }

    const srUid = measurementReportUids(studyUid, model).sopInstanceUid;
    const objects: { kind: 'sr' | 'overlay'; uid: string }[] = [
      { kind: 'sr', uid: srUid },
      ...graded.map((g) => ({
        kind: 'overlay' as const,
        uid: overlayUids(
          studyUid,
          g.entry.candidate.reference.sopInstanceUid,
          model,
          g.entry.found === undefined ? undefined : g.laterality,
        ).sopInstanceUid,
      })),
    ];
    await store.recordWrites(
      studyUid,
      this.options.destination,
      objects.map((object) => ({ kind: object.kind, id: object.uid })),
    );

    for (const g of graded) {
      const sop = g.entry.candidate.reference.sopInstanceUid;
      await store.recordImage({
        ...imageRecord(studyUid, g.entry.candidate),
        kneeCheck: {
          verdict: 'accepted',
          reason: g.outcome.kneeCheck.reason,
          score: g.outcome.kneeCheck.score,
        },
        status: 'graded',
      });
      await store.saveResult({
        sopInstanceUid: sop,
        laterality: g.laterality,
        klGrade: g.outcome.klGrade,
        probabilities: g.outcome.probabilities,
        confidence: g.outcome.confidence,
        modelId: model,
        jsw: g.jsw,
        ...withProgression(comparisons.get(g.laterality)),
      });
      this.options.observer?.imageFinished('graded');
    }
    return objects.map((object) => object.uid);
  }

  /**
   * The knees of an image of both knees, each as its own crop to grade (src/grading/localise.ts:
   * about 140 mm around the joint from the pixel spacing, else relative to the bone width);
   * the reason when none with a known side was found.
   */
  private localise(entry: Decoded): Decoded[] | string {
    const { image, metadata } = entry.decoded;
    const side = entry.candidate.laterality;
    const result = localiseKnees(image, this.options.grader.kneeCheckModel, {
      ...(metadata.pixelSpacing === undefined ? {} : { pixelSpacing: metadata.pixelSpacing }),
      ...(side === 'R' || side === 'L' ? { imageLaterality: side } : {}),
    });
    const units = result.knees.flatMap((knee): Decoded[] => {
      const laterality = knee.laterality;
      if (laterality === undefined) return [];
      const spacing =
        knee.cropPixelMm === undefined || metadata.pixelSpacing === undefined
          ? {}
          : {
              pixelSpacing: {
                rowMm: knee.cropPixelMm,
                columnMm: knee.cropPixelMm,
                source: metadata.pixelSpacing.source,
              },
            };
      // The whole image's spacing does not apply to the crop (it is scaled).
      const rest = { ...metadata };
      delete rest.pixelSpacing;
      return [
        {
          candidate: entry.candidate,
          decoded: { image: knee.crop, metadata: { ...rest, ...spacing } },
          found: { knee: { ...knee, laterality }, source: entry.decoded },
        },
      ];
    });
    if (units.length > 0) return units;
    const reasons = result.refusals.map((refusal) => refusal.detail);
    return `an image of both knees, but no knee joint was found on it${
      reasons.length === 0 ? '' : `: ${reasons.join('; ')}`
    }`;
  }

  /**
   * The knees the localiser finds on an image the knee check refused as a whole (a full
   * radiograph rather than a crop of the joint), each graded on its crop; those the grader
   * accepts. Empty for anything else, whose refusal then stands.
   */
  private async gradeFound(entry: Decoded): Promise<{ entry: Decoded; outcome: GradedImage }[]> {
    const knees = await this.timed('grade', () => Promise.resolve(this.localise(entry)));
    if (typeof knees === 'string') return [];
    const outcomes = await this.timed('grade', () =>
      this.options.grader.grade(knees.map((knee) => knee.decoded)),
    );
    return knees.flatMap((knee, index) => {
      const outcome = outcomes[index];
      return outcome?.status === 'graded' ? [{ entry: knee, outcome }] : [];
    });
  }

  /**
   * Per graded knee, the change since the patient's earlier result (database and earlier
   * jointspace SRs in the PACS), for the SR's comparison group.
   */
  private async comparisons(
    studyUid: string,
    first: DicomJsonDataset,
    knees: MeasuredKnee[],
    model: string,
  ): Promise<Map<KneeLaterality, ProgressionAssessment>> {
    const sources = this.options.progression;
    if (sources === undefined) return new Map();
    const text = (tag: string) => {
      const value = firstString(first, tag)?.trim();
      return value === undefined || value === '' ? undefined : value;
    };
    const patientId = text('00100020');
    const issuerOfPatientId = text('00100021');
    const studyDate = studyDateOf(first);
    return this.timed('fetch', () =>
      kneeProgressions(
        { ...sources, logger: this.options.logger },
        {
          studyInstanceUid: studyUid,
          ...(studyDate === undefined ? {} : { studyDate }),
          ...(patientId === undefined ? {} : { patientId }),
          ...(issuerOfPatientId === undefined ? {} : { issuerOfPatientId }),
        },
        knees.map((knee) => {
          const jsw = millimetres(knee.jsw);
          return {
            laterality: knee.laterality,
            klGrade: knee.outcome.klGrade,
            modelId: model,
            ...(Object.keys(jsw).length === 0 ? {} : { jsw }),
          };
        }),
      ),
    );
  }

  /**
   * The knee of each image: the header's when it names one, else the laterality model's when
   * it is confident; otherwise the reason why the knee is unknown.
   */
  private async sides(entries: Decoded[]): Promise<({ laterality: KneeLaterality } | string)[]> {
    const unknown = entries.filter(
      (entry) => entry.found === undefined && entry.candidate.laterality === undefined,
    );
    const model = this.options.laterality;
    const estimates =
      model === undefined || unknown.length === 0
        ? []
        : await this.timed('grade', () => model.estimate(unknown.map((e) => e.decoded.image)));
    return entries.map((entry) => {
      if (entry.found !== undefined) return { laterality: entry.found.knee.laterality };
      const header = entry.candidate.laterality;
      if (header === 'B') return 'an image of both knees whose knees were not found';
      if (header !== undefined) return { laterality: header };
      const estimate = estimates[unknown.indexOf(entry)];
      if (estimate === undefined) {
        return 'the header gives no Image Laterality or Laterality, and no laterality model is loaded';
      }
      if (estimate.confidence < LATERALITY_MIN_CONFIDENCE) {
        return `the header gives no laterality and the image does not show clearly which knee it is (${Math.round(estimate.confidence * 100)} % ${estimate.laterality})`;
      }
      return { laterality: estimate.laterality };
    });
  }

  private async refuse(
    candidate: Candidate,
    code: string,
    reason: string,
    status: 'refused' | 'failed',
    kneeCheck?: { verdict: 'refused'; reason: string; score: number },
  ): Promise<void> {
    const studyUid = candidate.reference.studyInstanceUid;
    await this.options.store.recordImage({
      ...imageRecord(studyUid, candidate),
      status,
      ...(kneeCheck === undefined ? {} : { kneeCheck }),
    });
    await this.options.store.recordProblem({
      studyInstanceUid: studyUid,
      sopInstanceUid: candidate.reference.sopInstanceUid,
      kind: 'refusal',
      code,
      reason,
      permanent: true,
    });
    this.options.observer?.imageFinished(status === 'failed' ? 'failed' : 'refused');
  }

  private async timed<T>(stage: Stage, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.options.observer?.observeStage(stage, (performance.now() - started) / 1000);
    }
  }
}

/**
 * The SR's region and lengths of a knee on its source image: for a knee found on an image of
 * both knees, its crop box (clipped to the image) and the lengths mapped back from the crop.
 */
function onWholeImage(knee: MeasuredKnee): { region?: ImageRegion; jsw?: JswLength[] } {
  const found = knee.entry.found;
  if (found === undefined) return knee.lengths.length === 0 ? {} : { jsw: knee.lengths };
  const { box } = found.knee;
  const { width, height } = found.source.image;
  const x = Math.max(0, Math.round(box.x));
  const y = Math.max(0, Math.round(box.y));
  const region = {
    x,
    y,
    width: Math.max(1, Math.min(width, Math.round(box.x + box.size)) - x),
    height: Math.max(1, Math.min(height, Math.round(box.y + box.size)) - y),
  };
  const jsw = knee.lengths.map((length) => ({
    ...length,
    femurPoint: cropPointToImage(length.femurPoint, found.knee),
    tibiaPoint: cropPointToImage(length.tibiaPoint, found.knee),
  }));
  return { region, ...(jsw.length === 0 ? {} : { jsw }) };
}

/**
 * Whether the knee check refused the image for how its pixels look only (not for its modality,
 * SOP class, size or a blank image): then it may be a full radiograph with a knee to find, and
 * the localiser (25–360 ms on 0.2–5 megapixel images) is worth running.
 */
function refusedByPixelsOnly(verdict: KneeCheckVerdict): boolean {
  const failed = verdict.checks.filter((check) => !check.passed).map((check) => check.name);
  return (
    failed.length > 0 && failed.every((name) => name === 'knee-likeness' || name === 'orientation')
  );
}

/** The study's Study Date (DA) as `YYYY-MM-DD`; undefined unless it is a real day. */
function studyDateOf(dataset: DicomJsonDataset): string | undefined {
  const value = firstString(dataset, '00080020')?.trim();
  return value === undefined ? undefined : isoDate(value);
}

/** The assessment, when it compares anything (the SR's comparison, the stored result). */
function compared(assessment: ProgressionAssessment | undefined) {
  return assessment === undefined || (assessment.kl === undefined && assessment.jsw === undefined)
    ? undefined
    : assessment;
}

function withComparison(assessment: ProgressionAssessment | undefined) {
  const comparison = compared(assessment);
  return comparison === undefined ? {} : { comparison };
}

function withProgression(assessment: ProgressionAssessment | undefined) {
  const progression = compared(assessment);
  return progression === undefined ? {} : { progression };
}

interface GradedKnee {
  entry: Decoded;
  outcome: GradedImage;
  laterality: KneeLaterality;
}

interface MeasuredKnee extends GradedKnee {
  /** What is stored and reported; the reason when nothing could be measured. */
  jsw: JswSummary | { refused: string };
  /** The minimum of each measured compartment, as drawn in the SR and the overlay. */
  lengths: JswLength[];
}

/**
 * The joint-space width of a graded knee image (src/measurement/jsw.ts): in mm with the
 * image's pixel spacing, else in pixels. Images are the knee crop itself (bilateral and
 * uncropped images are refused before grading), so crop and image coordinates are the same.
 */
function measure(knee: GradedKnee): MeasuredKnee {
  const { image, metadata } = knee.entry.decoded;
  const result = measureJointSpace(image, {
    laterality: knee.laterality,
    polarity: knee.outcome.kneeCheck.polarity,
    ...(metadata.pixelSpacing === undefined ? {} : { pixelSpacing: metadata.pixelSpacing }),
  });
  return { ...knee, jsw: summariseJsw(result), lengths: jswLengths(result) };
}

function empty() {
  return { graded: 0, refused: 0, written: [] as string[] };
}

function toCandidate(studyUid: string, dataset: DicomJsonDataset): Candidate | undefined {
  const sopInstanceUid = firstString(dataset, tags.SOPInstanceUID);
  const seriesInstanceUid = firstString(dataset, tags.SeriesInstanceUID);
  if (sopInstanceUid === undefined || seriesInstanceUid === undefined) return undefined;
  const imageLaterality = firstString(dataset, '00200062')?.trim().toUpperCase();
  const seriesLaterality = firstString(dataset, '00200060')?.trim().toUpperCase();
  const side = [imageLaterality, seriesLaterality].find(
    (value): value is KneeLaterality | 'B' => value === 'R' || value === 'L' || value === 'B',
  );
  return {
    reference: { studyInstanceUid: studyUid, seriesInstanceUid, sopInstanceUid },
    attributes: {
      sopClassUid: firstString(dataset, tags.SOPClassUID),
      modality: firstString(dataset, tags.Modality),
      bodyPartExamined: firstString(dataset, '00180015'),
      viewPosition: firstString(dataset, '00185101'),
      manufacturer: firstString(dataset, '00080070'),
      seriesInstanceUid,
    },
    dataset,
    instanceNumber: firstNumber(dataset, tags.InstanceNumber) ?? Number.MAX_SAFE_INTEGER,
    ...(side === undefined ? {} : { laterality: side }),
  };
}

function imageRecord(studyInstanceUid: string, candidate: Candidate) {
  const laterality = candidate.laterality;
  const view = candidate.attributes.viewPosition?.trim();
  return {
    studyInstanceUid,
    sopInstanceUid: candidate.reference.sopInstanceUid,
    seriesInstanceUid: candidate.reference.seriesInstanceUid,
    ...(laterality === undefined ? {} : { laterality }),
    ...(view === undefined || view === '' ? {} : { view: view.slice(0, 16) }),
  };
}

/** SHA-256 of the model and the sorted source images with their eligibility. */
function inputsDigest(
  model: string,
  eligible: Candidate[],
  ineligible: { candidate: Candidate }[],
): string {
  const lines = [
    `model ${model}`,
    ...eligible.map((c) => `eligible ${c.reference.sopInstanceUid}`).sort(),
    ...ineligible.map((c) => `ineligible ${c.candidate.reference.sopInstanceUid}`).sort(),
  ];
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

function sourceHeader(studyUid: string, dataset: DicomJsonDataset): SourceHeader {
  const text = (tag: string) => firstString(dataset, tag) ?? '';
  return {
    PatientName: text('00100010'),
    PatientID: text('00100020'),
    PatientBirthDate: text('00100030'),
    PatientSex: text('00100040'),
    StudyInstanceUID: studyUid,
    StudyDate: text('00080020'),
    StudyTime: text('00080030'),
    AccessionNumber: text('00080050'),
    ReferringPhysicianName: text('00080090'),
    StudyID: text('00200010'),
  };
}

function sourceImage(candidate: Candidate, decoded: DecodedImage | undefined): SourceImage {
  if (decoded === undefined) {
    throw new JointspaceError('invalid-argument', 'source image without decoded pixels');
  }
  const laterality = candidate.laterality;
  const view = candidate.attributes.viewPosition?.trim();
  const sopClassUid = candidate.attributes.sopClassUid ?? decoded.metadata.sopClassUid;
  if (sopClassUid === undefined) {
    throw new JointspaceError('invalid-dicom', 'a source image has no SOP Class UID');
  }
  return {
    sopClassUid,
    sopInstanceUid: candidate.reference.sopInstanceUid,
    seriesInstanceUid: candidate.reference.seriesInstanceUid,
    rows: decoded.image.height,
    columns: decoded.image.width,
    ...(laterality === 'R' || laterality === 'L' ? { imageLaterality: laterality } : {}),
    ...(view === undefined || view === '' ? {} : { viewPosition: view }),
    ...(decoded.metadata.pixelSpacing === undefined
      ? {}
      : { pixelSpacing: decoded.metadata.pixelSpacing }),
  };
}
