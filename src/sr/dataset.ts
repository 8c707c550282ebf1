/**
 * What the Structured Report and the Secondary Capture share: the inputs that describe the
 * source study and the algorithm, the modules copied from the source (PS3.3 C.7.1.1 Patient,
 * C.7.2.1 General Study), the IHE AI Results identity of the algorithm (Contributing
 * Equipment, PS3.3 C.12.1), and the Part 10 writer (PS3.10 Section 7, Explicit VR Little
 * Endian) on dcmjs.
 *
 * Nothing here logs: dcmjs's own logger is silenced while it writes, since its messages quote
 * attribute values (patient data).
 */
import { createRequire } from 'node:module';
import { JointspaceError } from '../errors.js';
import type { ModelManifest } from '../grading/model.js';
import type { KneeCheckVerdict } from '../grading/knee-check.js';
import type { PixelSpacing } from '../imaging/types.js';
import {
  EXPLICIT_VR_LITTLE_ENDIAN,
  PRIVATE_SCHEME,
  PROCESSING_EQUIPMENT,
  type CodedConcept,
} from './codes.js';
import { IMPLEMENTATION_CLASS_UID, algorithmDeviceUid, isValidUid } from './uids.js';

/** A dcmjs "naturalized" data set: DICOM keywords as keys, sequences as arrays of data sets. */
export type Dataset = Record<string, unknown>;

/**
 * Patient and study attributes of the source study, copied verbatim into every object
 * written back. DICOM keywords because they are data set attributes; an empty string writes
 * a Type 2 attribute empty.
 */
export interface SourceHeader {
  PatientName: string;
  PatientID: string;
  PatientBirthDate: string;
  PatientSex: string;
  StudyInstanceUID: string;
  StudyDate: string;
  StudyTime: string;
  AccessionNumber: string;
  ReferringPhysicianName: string;
  StudyID: string;
}

/** The algorithm's identity, as in models/knee-kl/model.json. */
export type AlgorithmIdentity = Pick<ModelManifest, 'name' | 'version' | 'sha256'>;

/** One source image: what a reference to it needs, and what is known of its geometry. */
export interface SourceImage {
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  rows: number;
  columns: number;
  /** Image Laterality (0020,0062) where the header gives R or L. */
  imageLaterality?: 'R' | 'L';
  /** View Position (0018,5101), e.g. AP or PA. */
  viewPosition?: string;
  pixelSpacing?: PixelSpacing;
}

/** A rectangle in pixel coordinates of the source image: (0, 0) is its top left corner. */
export interface ImageRegion {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** What the grader said about one knee (a GradedImage fits). */
export interface KneeGrading {
  klGrade: number;
  /** Probabilities of grades 0..4. */
  probabilities: readonly number[];
  /** Probability of the reported grade. */
  confidence: number;
  kneeCheck: Pick<KneeCheckVerdict, 'accepted' | 'reason'>;
}

/** Manufacturer (0008,0070) of everything jointspace writes. */
export const MANUFACTURER = 'jointspace';
/** Marks every object and series as unverified AI output (IHE AI Results). */
export const UNVERIFIED_NOTE = 'AI result, not verified';
/** UTF-8 (PS3.3 C.12.1.1.2), which is what dcmjs writes. */
export const SPECIFIC_CHARACTER_SET = 'ISO_IR 192';

const IMPLEMENTATION_VERSION_NAME = 'JOINTSPACE';
const LO_MAX = 64;
const SH_MAX = 16;
const PN_GROUP_MAX = 64;
const DS_PRECISION = 10;
const GRADES = 5;
const PROBABILITY_SUM_TOLERANCE = 1e-3;

/** `${name}@${version}`, the identity written into every result (as KneeModel.id). */
export function modelId(algorithm: AlgorithmIdentity): string {
  return `${algorithm.name}@${algorithm.version}`;
}

export function invalid(message: string): JointspaceError {
  return new JointspaceError('invalid-argument', message);
}

/** Guard: a valid UID; the message names the attribute, never its value. */
export function requireUid(value: string, name: string): void {
  if (!isValidUid(value)) throw invalid(`${name} must be a valid DICOM UID (PS3.5 9.1)`);
}

function requireLength(value: string, name: string, max: number): void {
  if (value.length > max) throw invalid(`${name} must have at most ${max} characters`);
}

function requirePattern(value: string, name: string, pattern: RegExp, expected: string): void {
  if (value !== '' && !pattern.test(value)) throw invalid(`${name} must be ${expected} or empty`);
}

function requirePersonName(value: string, name: string): void {
  for (const group of value.split('=')) {
    requireLength(group, `each component group of ${name}`, PN_GROUP_MAX);
  }
}

/** Guards the copied header: UID syntax, DA/TM/CS forms and VR lengths (PS3.5 6.2). */
export function checkSourceHeader(header: SourceHeader): void {
  requireUid(header.StudyInstanceUID, 'StudyInstanceUID');
  requirePersonName(header.PatientName, 'PatientName');
  requirePersonName(header.ReferringPhysicianName, 'ReferringPhysicianName');
  requireLength(header.PatientID, 'PatientID', LO_MAX);
  requireLength(header.AccessionNumber, 'AccessionNumber', SH_MAX);
  requireLength(header.StudyID, 'StudyID', SH_MAX);
  requirePattern(header.PatientBirthDate, 'PatientBirthDate', /^\d{8}$/, 'a DA (YYYYMMDD)');
  requirePattern(header.StudyDate, 'StudyDate', /^\d{8}$/, 'a DA (YYYYMMDD)');
  requirePattern(header.StudyTime, 'StudyTime', /^\d{2,6}(\.\d{1,6})?$/, 'a TM (HHMMSS.FFFFFF)');
  requirePattern(header.PatientSex, 'PatientSex', /^[MFO]$/, 'M, F or O');
}

/** Guard: a source image a reference can be built from. */
export function checkSourceImage(image: SourceImage, name: string): void {
  requireUid(image.sopClassUid, `${name}.sopClassUid`);
  requireUid(image.sopInstanceUid, `${name}.sopInstanceUid`);
  requireUid(image.seriesInstanceUid, `${name}.seriesInstanceUid`);
  if (!isPositiveInteger(image.rows) || !isPositiveInteger(image.columns)) {
    throw invalid(`${name}.rows and ${name}.columns must be positive integers`);
  }
}

/** Guard: a region with positive size inside an image of `columns` x `rows`. */
export function checkRegion(region: ImageRegion, columns: number, rows: number, name: string) {
  const { x, y, width, height } = region;
  const finite = [x, y, width, height].every(Number.isFinite);
  if (!finite || x < 0 || y < 0 || width <= 0 || height <= 0) {
    throw invalid(`${name} must have x, y >= 0 and a positive width and height`);
  }
  if (x + width > columns || y + height > rows) {
    throw invalid(`${name} must lie inside the ${columns} x ${rows} source image`);
  }
}

/** Guard: a KL grade 0..4 with five probabilities that sum to 1. */
export function checkGrading(grading: KneeGrading, name: string): void {
  const { klGrade, probabilities, confidence } = grading;
  if (!Number.isInteger(klGrade) || klGrade < 0 || klGrade >= GRADES) {
    throw invalid(`${name}.klGrade must be an integer 0..4`);
  }
  const valid = probabilities.every((p) => Number.isFinite(p) && p >= 0 && p <= 1);
  if (probabilities.length !== GRADES || !valid) {
    throw invalid(`${name}.probabilities must be ${GRADES} numbers in 0..1`);
  }
  const sum = probabilities.reduce((total, p) => total + p, 0);
  if (Math.abs(sum - 1) > PROBABILITY_SUM_TOLERANCE) {
    throw invalid(`${name}.probabilities must sum to 1`);
  }
  if (!Number.isFinite(confidence) || confidence < 0 || confidence > 1) {
    throw invalid(`${name}.confidence must be a number in 0..1`);
  }
}

/** Guard: a model identity with a SHA-256 and short enough for LO attributes. */
export function checkAlgorithm(algorithm: AlgorithmIdentity): void {
  if (!/^[0-9a-fA-F]{64}$/.test(algorithm.sha256)) {
    throw invalid('algorithm.sha256 must be 64 hexadecimal digits');
  }
  requireLength(algorithm.name, 'algorithm.name', LO_MAX);
  requireLength(algorithm.version, 'algorithm.version', LO_MAX);
  if (algorithm.name === '' || algorithm.version === '') {
    throw invalid('algorithm.name and algorithm.version must not be empty');
  }
}

export function isPositiveInteger(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}

/** A Code Sequence item (PS3.3 Table 8.8-1). */
export function codeItem(code: CodedConcept): Dataset {
  return {
    CodeValue: code.value,
    CodingSchemeDesignator: code.scheme,
    CodeMeaning: code.meaning,
  };
}

/** Coding Scheme Identification of the private scheme (PS3.3 C.12.1, Table C.12-1). */
export function codingSchemeIdentification(): Dataset[] {
  return [
    {
      CodingSchemeDesignator: PRIVATE_SCHEME.designator,
      CodingSchemeName: PRIVATE_SCHEME.name,
      CodingSchemeVersion: PRIVATE_SCHEME.version,
      CodingSchemeResponsibleOrganization: PRIVATE_SCHEME.responsibleOrganization,
    },
  ];
}

/** Patient Module (PS3.3 C.7.1.1) and General Study Module (C.7.2.1), copied from the source. */
export function patientAndStudy(header: SourceHeader): Dataset {
  return {
    PatientName: header.PatientName,
    PatientID: header.PatientID,
    PatientBirthDate: header.PatientBirthDate,
    PatientSex: header.PatientSex,
    StudyInstanceUID: header.StudyInstanceUID,
    StudyDate: header.StudyDate,
    StudyTime: header.StudyTime,
    AccessionNumber: header.AccessionNumber,
    ReferringPhysicianName: header.ReferringPhysicianName,
    StudyID: header.StudyID,
  };
}

/** General Equipment Module (PS3.3 C.7.5.1): the algorithm is the equipment. */
export function generalEquipment(algorithm: AlgorithmIdentity): Dataset {
  return {
    Manufacturer: MANUFACTURER,
    ManufacturerModelName: algorithm.name,
    SoftwareVersions: algorithm.version,
  };
}

/**
 * Contributing Equipment Sequence (PS3.3 C.12.1, IHE AI Results): the algorithm with purpose
 * (109102, DCM, "Processing Equipment") from CID 7005, and a Device UID that changes with the
 * model file.
 */
export function contributingEquipment(algorithm: AlgorithmIdentity, when: Date): Dataset[] {
  return [
    {
      PurposeOfReferenceCodeSequence: [codeItem(PROCESSING_EQUIPMENT)],
      Manufacturer: MANUFACTURER,
      ManufacturerModelName: algorithm.name,
      SoftwareVersions: algorithm.version,
      DeviceUID: algorithmDeviceUid(algorithm.sha256),
      ContributionDateTime: dicomDateTime(when),
      ContributionDescription: `Knee osteoarthritis grading by ${modelId(algorithm)}; ${UNVERIFIED_NOTE}`,
    },
  ];
}

/** Instance creation and content timestamps, in UTC with the offset stated (PS3.3 C.12.1). */
export function timestamps(when: Date): Dataset {
  return {
    InstanceCreationDate: dicomDate(when),
    InstanceCreationTime: dicomTime(when),
    ContentDate: dicomDate(when),
    ContentTime: dicomTime(when),
    TimezoneOffsetFromUTC: '+0000',
  };
}

/** Guard: a real point in time (an invalid Date would write "NaN" dates). */
export function checkTimestamp(when: Date): void {
  if (Number.isNaN(when.getTime())) throw invalid('contentDateTime must be a valid Date');
}

/** DA in UTC: YYYYMMDD. */
export function dicomDate(when: Date): string {
  return when.toISOString().slice(0, 10).replace(/-/g, '');
}

/** TM in UTC: HHMMSS. */
export function dicomTime(when: Date): string {
  return when.toISOString().slice(11, 19).replace(/:/g, '');
}

/** DT in UTC: YYYYMMDDHHMMSS+0000. */
export function dicomDateTime(when: Date): string {
  return `${dicomDate(when)}${dicomTime(when)}+0000`;
}

/**
 * A DS value (PS3.5 6.2: at most 16 characters) with up to ten significant digits, fewer when
 * 16 characters cannot hold ten (very small or very large numbers, written with an exponent).
 */
export function decimalString(value: number): string {
  if (!Number.isFinite(value)) throw invalid(`value ${value} does not fit a DS`);
  for (let digits = DS_PRECISION; digits >= 1; digits--) {
    const plain = String(Number(value.toPrecision(digits)));
    if (plain.length <= SH_MAX) return plain;
    const exponent = value.toExponential(digits - 1);
    if (exponent.length <= SH_MAX) return exponent;
  }
  throw invalid(`value ${value} does not fit a DS`);
}

interface DcmjsLogger {
  getLevel(): number;
  setLevel(level: number, persist?: boolean): void;
  getLogger(name: string): DcmjsLogger;
}

interface DcmjsWriter {
  data: {
    DicomDict: new (meta: Dataset) => { dict: Dataset; write(): ArrayBuffer };
    DicomMetaDictionary: { denaturalizeDataset(dataset: Dataset): Dataset };
  };
  log: DcmjsLogger;
}

// dcmjs ships no type declarations; the few members used here are typed above.
const require = createRequire(import.meta.url);
const dcmjs = require('dcmjs') as DcmjsWriter;

const LOGLEVEL_SILENT = 5;

/** Runs `action` with every dcmjs logger silent: they quote values, i.e. patient data. */
function silently<T>(action: () => T): T {
  const loggers = [dcmjs.log, dcmjs.log.getLogger('validation.dcmjs')];
  const levels = loggers.map((logger) => logger.getLevel());
  for (const logger of loggers) logger.setLevel(LOGLEVEL_SILENT, false);
  try {
    return action();
  } finally {
    loggers.forEach((logger, index) => {
      logger.setLevel(levels[index] ?? LOGLEVEL_SILENT, false);
    });
  }
}

/**
 * A Part 10 file (PS3.10 Section 7.1): preamble, File Meta Information and the data set in
 * Explicit VR Little Endian. The data set must carry SOPClassUID and SOPInstanceUID.
 */
export function writePart10(dataset: Dataset, sopClassUid: string, sopInstanceUid: string) {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUid,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  };
  return silently(() => {
    const { DicomDict, DicomMetaDictionary } = dcmjs.data;
    const file = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
    file.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
    return new Uint8Array(file.write());
  });
}
