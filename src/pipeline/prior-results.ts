/**
 * The patient's earlier jointspace results, found in the PACS: the TID 1500 SRs jointspace
 * wrote into the patient's earlier studies, read back per knee (KL grade, and minimum JSW
 * where the SR has it) for the progression comparison (src/care/progression.ts).
 *
 * Over DICOMweb (PS3.18 10.6 QIDO-RS, 10.4 WADO-RS):
 * 1. Search for Studies with the PatientID and a StudyDate range ending the day before the
 *    current study; answers are checked again here (exact PatientID, Issuer of Patient ID where
 *    given, strictly earlier date, not the current study), because a QIDO match is looser:
 *    characters a query cannot carry (space, `*`, `?`, `,`, `\`, non-ASCII, ...) are sent as
 *    the single-character wildcard `?` (Orthanc 1.10 does not decode query values; see
 *    src/dicomweb/README.md).
 * 2. In each study, Search for Instances of Modality SR; jointspace's own are those with its
 *    Series Description (`SR_SERIES_DESCRIPTION`) or Manufacturer `jointspace`, as
 *    src/pipeline/eligibility.ts recognises its own output.
 * 3. Retrieve each and read its content tree with dcmjs: per Measurement Group (125007, DCM),
 *    the laterality modifier of the Finding Site, the KL grade CODE (KL-GRADE, 99JOINTSPACE)
 *    and, in the length groups, the minimum joint-space width in mm (Finding JSW-MIN-MEDIAL /
 *    JSW-MIN-LATERAL).
 *
 * Errors: a PACS that cannot be reached or answers 5xx (a transient `pacs-unavailable`) is
 * thrown, so the caller retries later; so is any failure of a search. One SR that cannot be
 * retrieved for good (404, a malformed answer) or read is skipped, and the reason is returned,
 * never thrown. Nothing is logged: patient IDs and UIDs stay out of every message.
 *
 * Known gaps:
 * - An SR written before the study had an Issuer of Patient ID, or a PACS that does not return
 *   IssuerOfPatientID at study level: when an issuer is asked for, a study that reports none is
 *   skipped with a reason (a patient ID alone is not unique across issuers).
 * - Joint-space widths are read from the length groups the SR writes (Finding JSW-MIN-MEDIAL
 *   or JSW-MIN-LATERAL with a Length NUM, src/sr/measurement-report.ts) when they are in mm;
 *   widths in pixels (no pixel spacing) cannot be compared between studies and are left out.
 * - All matching studies come in one QIDO answer (no paging); a PACS that caps answers (Orthanc
 *   `LimitFindResults`) would hide the oldest ones.
 */
import { createRequire } from 'node:module';
import type { EarlierKneeResult } from '../care/progression.js';
import { isoDate } from '../care/progression.js';
import type { DicomWebClient } from '../dicomweb/client.js';
import { firstString, strings } from '../dicomweb/json.js';
import { JointspaceError, errorMessage } from '../errors.js';
import {
  DEVICE_OBSERVER_NAME,
  FINDING,
  FINDING_SITE,
  JSW_MINIMUM,
  IMAGING_MEASUREMENT_REPORT,
  IMAGING_MEASUREMENTS,
  KL_GRADE,
  LATERALITY,
  LEFT,
  MEASUREMENT_GROUP,
  PRIVATE_SCHEME,
  RIGHT,
  type CodedConcept,
} from '../sr/codes.js';
import { MANUFACTURER, type Dataset } from '../sr/dataset.js';
import { SR_SERIES_DESCRIPTION } from '../sr/measurement-report.js';

/** What the search needs of the DICOMweb client (a test may pass a stub). */
export type PriorResultsClient = Pick<
  DicomWebClient,
  'searchForStudies' | 'searchForInstances' | 'retrieveInstance'
>;

export interface PriorResultsQuery {
  /** Patient ID (0010,0020) of the current study. */
  patientId: string;
  /** Issuer of Patient ID (0010,0021), where the current study has one. */
  issuerOfPatientId?: string;
  /** Study Date of the current study (`YYYYMMDD` or `YYYY-MM-DD`): only earlier studies count. */
  beforeStudyDate: string;
  /** The current study, never its own baseline. */
  excludeStudyInstanceUid?: string;
}

/** One knee of one earlier jointspace SR. */
export interface PriorKneeResult extends EarlierKneeResult {
  source: 'pacs';
  /** SOP Instance UID of the SR it was read from. */
  srSopInstanceUid: string;
}

/** An earlier study or SR that gave no result, and why (no patient data in `reason`). */
export interface SkippedPriorResult {
  studyInstanceUid: string;
  sopInstanceUid?: string;
  reason: string;
}

export interface PriorResults {
  results: PriorKneeResult[];
  skipped: SkippedPriorResult[];
  /** Earlier studies of the patient the search found. */
  studiesSearched: number;
}

const tag = {
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  ModalitiesInStudy: '00080061',
  Manufacturer: '00080070',
  SeriesDescription: '0008103E',
  PatientID: '00100020',
  IssuerOfPatientID: '00100021',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
} as const;

const MM = 'mm';
const JSW_MAX_MM = 20;

/** Characters a QIDO value cannot carry as they are on every server: sent as `?`. */
const UNSAFE_IN_QUERY = /[^A-Za-z0-9._\-^:@/;$|]/g;

/**
 * The patient's results in jointspace SRs of studies before `beforeStudyDate`. Throws
 * `invalid-argument` for a bad query and the client's errors when a search fails; a single SR
 * that cannot be retrieved for good or read is skipped with its reason.
 */
export async function findPriorResults(
  dicomweb: PriorResultsClient,
  query: PriorResultsQuery,
): Promise<PriorResults> {
  const before = checkQuery(query);
  const studies = await earlierStudies(dicomweb, query, before);
  const results: PriorKneeResult[] = [];
  const skipped: SkippedPriorResult[] = [];

  for (const study of studies) {
    if (!issuerMatches(study, query, skipped)) continue;
    const srs = await ownReports(dicomweb, study.studyInstanceUid);
    for (const sr of srs) {
      const read = await readReport(dicomweb, study, sr, query);
      results.push(...read.results);
      skipped.push(...read.skipped);
    }
  }
  return { results, skipped, studiesSearched: studies.length };
}

interface EarlierStudy {
  studyInstanceUid: string;
  studyDate: string;
  issuer: string | undefined;
}

interface SrReference {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

function invalid(message: string): JointspaceError {
  return new JointspaceError('invalid-argument', message, { status: 400 });
}

function checkQuery(query: PriorResultsQuery): string {
  if (query.patientId.trim() === '') throw invalid('prior results: patientId must not be empty');
  if (query.issuerOfPatientId?.trim() === '') {
    throw invalid('prior results: issuerOfPatientId must not be empty when given');
  }
  const before = isoDate(query.beforeStudyDate);
  if (before === undefined) {
    throw invalid('prior results: beforeStudyDate must be a date YYYYMMDD or YYYY-MM-DD');
  }
  return before;
}

/** The QIDO form of a value: unsafe characters as the one-character wildcard. */
function queryValue(value: string): string {
  return value.replace(UNSAFE_IN_QUERY, '?');
}

function dayBefore(iso: string): string {
  const date = new Date(`${iso}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() - 1);
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}

async function earlierStudies(
  dicomweb: PriorResultsClient,
  query: PriorResultsQuery,
  before: string,
): Promise<EarlierStudy[]> {
  const answers = await dicomweb.searchForStudies({
    match: { PatientID: queryValue(query.patientId), StudyDate: `-${dayBefore(before)}` },
    includeFields: ['PatientID', 'IssuerOfPatientID', 'StudyDate', 'ModalitiesInStudy'],
  });
  return answers.flatMap((answer): EarlierStudy[] => {
    const uid = firstString(answer, tag.StudyInstanceUID);
    const date = isoDate(firstString(answer, tag.StudyDate) ?? '');
    const modalities = strings(answer, tag.ModalitiesInStudy);
    if (uid === undefined || date === undefined || date >= before) return [];
    if (uid === query.excludeStudyInstanceUid) return [];
    if (firstString(answer, tag.PatientID) !== query.patientId) return [];
    if (modalities.length > 0 && !modalities.includes('SR')) return [];
    return [
      {
        studyInstanceUid: uid,
        studyDate: date,
        issuer: firstString(answer, tag.IssuerOfPatientID),
      },
    ];
  });
}

function issuerMatches(
  study: EarlierStudy,
  query: PriorResultsQuery,
  skipped: SkippedPriorResult[],
): boolean {
  const wanted = query.issuerOfPatientId;
  if (wanted === undefined || study.issuer === wanted) return true;
  skipped.push({
    studyInstanceUid: study.studyInstanceUid,
    reason:
      study.issuer === undefined
        ? 'the study has no Issuer of Patient ID, so it cannot be told apart from another issuer’s patient with the same ID'
        : 'the study’s Issuer of Patient ID differs: another patient with the same ID',
  });
  return false;
}

/** The SR instances of a study that jointspace wrote. */
async function ownReports(
  dicomweb: PriorResultsClient,
  studyInstanceUid: string,
): Promise<SrReference[]> {
  const answers = await dicomweb.searchForInstances({
    studyInstanceUid,
    match: { Modality: 'SR' },
    includeFields: ['SeriesDescription', 'Manufacturer', 'SeriesInstanceUID', 'SOPInstanceUID'],
  });
  return answers.flatMap((answer): SrReference[] => {
    const description = firstString(answer, tag.SeriesDescription)?.trim();
    const manufacturer = firstString(answer, tag.Manufacturer)?.trim();
    const series = firstString(answer, tag.SeriesInstanceUID);
    const instance = firstString(answer, tag.SOPInstanceUID);
    const own = description === SR_SERIES_DESCRIPTION || manufacturer === MANUFACTURER;
    if (!own || series === undefined || instance === undefined) return [];
    return [{ studyInstanceUid, seriesInstanceUid: series, sopInstanceUid: instance }];
  });
}

interface ReadReport {
  results: PriorKneeResult[];
  skipped: SkippedPriorResult[];
}

async function readReport(
  dicomweb: PriorResultsClient,
  study: EarlierStudy,
  sr: SrReference,
  query: PriorResultsQuery,
): Promise<ReadReport> {
  const skip = (reason: string): ReadReport => ({
    results: [],
    skipped: [{ studyInstanceUid: sr.studyInstanceUid, sopInstanceUid: sr.sopInstanceUid, reason }],
  });

  let bytes: Uint8Array;
  try {
    bytes = await dicomweb.retrieveInstance(sr);
  } catch (error) {
    if (!(error instanceof JointspaceError) || !error.permanent) throw error;
    return skip(`the SR could not be retrieved (${error.message})`);
  }

  let dataset: Dataset;
  try {
    dataset = readPart10(bytes);
  } catch (error) {
    return skip(`the SR could not be read as DICOM (${errorMessage(error).slice(0, 120)})`);
  }
  return interpretReport(dataset, study, sr, query);
}

function interpretReport(
  dataset: Dataset,
  study: EarlierStudy,
  sr: SrReference,
  query: PriorResultsQuery,
): ReadReport {
  const skipped: SkippedPriorResult[] = [];
  const skip = (reason: string): ReadReport => ({
    results: [],
    skipped: [{ studyInstanceUid: sr.studyInstanceUid, sopInstanceUid: sr.sopInstanceUid, reason }],
  });

  if (text(dataset.Manufacturer) !== MANUFACTURER)
    return skip('the SR was not written by jointspace');
  if (text(dataset.PatientID) !== query.patientId) return skip('the SR is of another patient');
  if (text(dataset.StudyInstanceUID) !== sr.studyInstanceUid) {
    return skip('the SR belongs to another study than the one it was found in');
  }
  if (!hasConcept(dataset, IMAGING_MEASUREMENT_REPORT)) {
    return skip('the SR is not an Imaging Measurement Report (TID 1500)');
  }
  const modelId = reportModelId(dataset);
  if (modelId === undefined) return skip('the SR names no model (Device Observer Name)');

  const groups = children(dataset)
    .filter((item) => hasConcept(item, IMAGING_MEASUREMENTS))
    .flatMap((item) => children(item).filter((group) => hasConcept(group, MEASUREMENT_GROUP)));
  const knees = new Map<'R' | 'L', KneeReading>();
  groups.forEach((group, index) => {
    const problem = readGroup(group, knees);
    if (problem !== undefined) {
      skipped.push({
        studyInstanceUid: sr.studyInstanceUid,
        sopInstanceUid: sr.sopInstanceUid,
        reason: `measurement group ${index + 1}: ${problem}`,
      });
    }
  });

  const results: PriorKneeResult[] = [];
  for (const [laterality, knee] of knees) {
    if (knee.conflict) {
      skipped.push({
        studyInstanceUid: sr.studyInstanceUid,
        sopInstanceUid: sr.sopInstanceUid,
        reason: `the SR gives two different KL grades for the ${laterality === 'R' ? 'right' : 'left'} knee`,
      });
      continue;
    }
    if (knee.klGrade === undefined) {
      skipped.push({
        studyInstanceUid: sr.studyInstanceUid,
        sopInstanceUid: sr.sopInstanceUid,
        reason: `the SR gives a joint-space width but no KL grade for the ${laterality === 'R' ? 'right' : 'left'} knee`,
      });
      continue;
    }
    results.push({
      laterality,
      klGrade: knee.klGrade,
      ...(Object.keys(knee.jsw).length === 0 ? {} : { jsw: knee.jsw }),
      studyDate: isoDate(text(dataset.StudyDate) ?? '') ?? study.studyDate,
      studyInstanceUid: sr.studyInstanceUid,
      modelId,
      source: 'pacs',
      srSopInstanceUid: sr.sopInstanceUid,
    });
  }
  if (results.length === 0 && skipped.length === 0) {
    return skip('the SR has no measurement group with a knee laterality and a KL grade');
  }
  return { results, skipped };
}

interface KneeReading {
  klGrade?: number;
  conflict: boolean;
  jsw: { medialMinMm?: number; lateralMinMm?: number };
}

/** Reads one Measurement Group into `knees`; returns why it gave nothing, if it did not. */
function readGroup(group: Dataset, knees: Map<'R' | 'L', KneeReading>): string | undefined {
  const laterality = groupLaterality(group);
  if (laterality === undefined) return 'no finding site laterality (right or left)';
  const grade = groupGrade(group);
  if (grade === 'invalid') return 'the KL grade code is not one of KL-0 to KL-4';
  const jsw = groupJsw(group);
  if (grade === undefined && jsw === undefined) return 'neither a KL grade nor a joint-space width';

  const knee = knees.get(laterality) ?? { conflict: false, jsw: {} };
  if (grade !== undefined) {
    if (knee.klGrade !== undefined && knee.klGrade !== grade) knee.conflict = true;
    knee.klGrade = grade;
  }
  Object.assign(knee.jsw, jsw);
  knees.set(laterality, knee);
  return undefined;
}

function groupLaterality(group: Dataset): 'R' | 'L' | undefined {
  const site = children(group).find((item) => hasConcept(item, FINDING_SITE));
  const modifier =
    site === undefined ? undefined : children(site).find((i) => hasConcept(i, LATERALITY));
  const value = modifier === undefined ? undefined : codeValue(modifier);
  if (value !== undefined && same(value, RIGHT)) return 'R';
  if (value !== undefined && same(value, LEFT)) return 'L';
  return undefined;
}

function groupGrade(group: Dataset): number | 'invalid' | undefined {
  const item = children(group).find((i) => i.ValueType === 'CODE' && hasConcept(i, KL_GRADE));
  const value = item === undefined ? undefined : codeValue(item);
  if (value === undefined) return item === undefined ? undefined : 'invalid';
  const grade = PRIVATE_SCHEME.grades.findIndex((g) => same(value, g.code));
  return grade < 0 ? 'invalid' : grade;
}

/**
 * The minimum JSW of a length group as the SR writes it (Finding JSW-MIN-MEDIAL or
 * JSW-MIN-LATERAL, the width as a Length NUM), in mm. Widths in pixels are not comparable
 * between studies and are left out.
 */
function groupJsw(group: Dataset): { medialMinMm?: number; lateralMinMm?: number } | undefined {
  const finding = children(group).find((i) => i.ValueType === 'CODE' && hasConcept(i, FINDING));
  const value = finding === undefined ? undefined : codeValue(finding);
  const field =
    value === undefined
      ? undefined
      : same(value, JSW_MINIMUM.medial)
        ? 'medialMinMm'
        : same(value, JSW_MINIMUM.lateral)
          ? 'lateralMinMm'
          : undefined;
  if (field === undefined) return undefined;
  const length = children(group).find((i) => i.ValueType === 'NUM');
  const measured = length === undefined ? undefined : sequence(length.MeasuredValueSequence)[0];
  const unit =
    measured === undefined ? undefined : conceptOf(measured, 'MeasurementUnitsCodeSequence');
  const mm = Number(text(measured?.NumericValue));
  return unit?.value === MM && Number.isFinite(mm) && mm >= 0 && mm <= JSW_MAX_MM
    ? { [field]: mm }
    : undefined;
}

/** Device Observer Name (TID 1004) at the root, else Manufacturer's Model Name @ version. */
function reportModelId(dataset: Dataset): string | undefined {
  const observer = children(dataset).find((item) => hasConcept(item, DEVICE_OBSERVER_NAME));
  const name = text(observer?.TextValue)?.trim();
  if (name !== undefined && name !== '') return name;
  const model = text(dataset.ManufacturerModelName)?.trim();
  const version = text(dataset.SoftwareVersions)?.trim();
  return model === undefined || version === undefined ? undefined : `${model}@${version}`;
}

// --- the naturalized data set, read defensively (dcmjs gives a lone item as an object) ---

function sequence(value: unknown): Dataset[] {
  if (Array.isArray(value)) return value.filter(isDataset);
  return isDataset(value) ? [value] : [];
}

function isDataset(value: unknown): value is Dataset {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function children(item: Dataset | undefined): Dataset[] {
  return item === undefined ? [] : sequence(item.ContentSequence);
}

/** A string attribute (the first value of a multi-valued one). */
function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return text(value[0] as unknown);
  return undefined;
}

interface Code {
  value: string;
  scheme: string;
}

function conceptOf(item: Dataset, attribute = 'ConceptNameCodeSequence'): Code | undefined {
  const code = sequence(item[attribute])[0];
  const value = text(code?.CodeValue);
  const scheme = text(code?.CodingSchemeDesignator);
  return value === undefined || scheme === undefined ? undefined : { value, scheme };
}

function codeValue(item: Dataset): Code | undefined {
  return conceptOf(item, 'ConceptCodeSequence');
}

function same(code: Code, concept: CodedConcept): boolean {
  return code.value === concept.value && code.scheme === concept.scheme;
}

function hasConcept(item: Dataset, concept: CodedConcept): boolean {
  const name = conceptOf(item);
  return name !== undefined && same(name, concept);
}

interface DcmjsLogger {
  getLevel(): number;
  setLevel(level: number, persist?: boolean): void;
  getLogger(name: string): DcmjsLogger;
}

interface DcmjsReader {
  data: {
    DicomMessage: { readFile(buffer: ArrayBuffer): { dict: Dataset } };
    DicomMetaDictionary: { naturalizeDataset(dict: Dataset): Dataset };
  };
  log: DcmjsLogger;
}

// dcmjs ships no type declarations; the few members used here are typed above.
const require = createRequire(import.meta.url);
const dcmjs = require('dcmjs') as DcmjsReader;
const LOGLEVEL_SILENT = 5;

/** A Part 10 file as a naturalized data set; dcmjs's loggers (they quote values) kept silent. */
function readPart10(bytes: Uint8Array): Dataset {
  const loggers = [dcmjs.log, dcmjs.log.getLogger('validation.dcmjs')];
  const levels = loggers.map((logger) => logger.getLevel());
  for (const logger of loggers) logger.setLevel(LOGLEVEL_SILENT, false);
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const message = dcmjs.data.DicomMessage.readFile(buffer as ArrayBuffer);
    return dcmjs.data.DicomMetaDictionary.naturalizeDataset(message.dict);
  } finally {
    loggers.forEach((logger, index) => {
      logger.setLevel(levels[index] ?? LOGLEVEL_SILENT, false);
    });
  }
}
