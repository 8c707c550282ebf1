/**
 * Every coded concept, SOP Class and transfer syntax the SR and Secondary Capture builders
 * write, defined once.
 *
 * Standard codes were checked against PS3.16 (Annex D for DCM; the CIDs named per constant)
 * as published in DCMTK's generated code tables (dcmsr/codes/dcm.h, sct.h) and the DICOM
 * terminology value sets; the table in src/sr/README.md lists each with its source. Concepts
 * with no standard code come from the private scheme in mappings/kl-grade-codes.json
 * (PS3.16 Section 8, "99" designators), read once when this module loads.
 */
import { readFileSync } from 'node:fs';
import { JointspaceError, errorMessage } from '../errors.js';
import { fromRoot } from '../paths.js';

/** A coded concept: (Code Value, Coding Scheme Designator, Code Meaning), PS3.3 Section 8.8. */
export interface CodedConcept {
  readonly value: string;
  readonly scheme: string;
  readonly meaning: string;
}

function concept(value: string, scheme: string, meaning: string): CodedConcept {
  return Object.freeze({ value, scheme, meaning });
}

/** DICOM Controlled Terminology, PS3.16 Annex D. */
export const DCM = 'DCM';
/** SNOMED CT, as DICOM designates it. */
export const SCT = 'SCT';
/** Unified Code for Units of Measure. */
export const UCUM = 'UCUM';
/** IETF language tags (PS3.16 CID 5000). */
export const RFC5646 = 'RFC5646';

// TID 1500 Measurement Report and its sub-templates (PS3.16 Annex A).
export const IMAGING_MEASUREMENT_REPORT = concept('126000', DCM, 'Imaging Measurement Report');
export const IMAGE_LIBRARY = concept('111028', DCM, 'Image Library');
export const IMAGE_LIBRARY_GROUP = concept('126200', DCM, 'Image Library Group');
export const IMAGING_MEASUREMENTS = concept('126010', DCM, 'Imaging Measurements');
export const MEASUREMENT_GROUP = concept('125007', DCM, 'Measurement Group');
export const TRACKING_IDENTIFIER = concept('112039', DCM, 'Tracking Identifier');
export const TRACKING_UNIQUE_IDENTIFIER = concept('112040', DCM, 'Tracking Unique Identifier');
export const FINDING = concept('121071', DCM, 'Finding');
export const IMAGE_REGION = concept('111030', DCM, 'Image Region');
export const PROCEDURE_REPORTED = concept('121058', DCM, 'Procedure reported');
/** Value of Procedure reported; TID 1500 row 4 leaves CID 100 extensible. */
export const IMAGING_PROCEDURE = concept('363679005', SCT, 'Imaging procedure');

// TID 1204 Language of Content Item and Descendants.
export const LANGUAGE_OF_CONTENT = concept(
  '121049',
  DCM,
  'Language of Content Item and Descendants',
);
export const ENGLISH = concept('en', RFC5646, 'English');

// TID 1002 Observer Context and TID 1004 Device Observer Identifying Attributes.
export const OBSERVER_TYPE = concept('121005', DCM, 'Observer Type');
export const DEVICE = concept('121007', DCM, 'Device');
export const DEVICE_OBSERVER_UID = concept('121012', DCM, 'Device Observer UID');
export const DEVICE_OBSERVER_NAME = concept('121013', DCM, 'Device Observer Name');
export const DEVICE_OBSERVER_MANUFACTURER = concept('121014', DCM, 'Device Observer Manufacturer');
export const DEVICE_OBSERVER_MODEL_NAME = concept('121015', DCM, 'Device Observer Model Name');

// TID 4019 Algorithm Identification.
export const ALGORITHM_NAME = concept('111001', DCM, 'Algorithm Name');
export const ALGORITHM_VERSION = concept('111003', DCM, 'Algorithm Version');

// TID 1602 Image Library Entry Descriptors.
export const IMAGE_LATERALITY = concept('111027', DCM, 'Image Laterality');
export const IMAGE_VIEW = concept('111031', DCM, 'Image View');

// Finding site, laterality (CID 244 / CID 2) and the finding itself.
export const FINDING_SITE = concept('363698007', SCT, 'Finding Site');
export const LATERALITY = concept('272741003', SCT, 'Laterality');
export const RIGHT = concept('24028007', SCT, 'Right');
export const LEFT = concept('7771000', SCT, 'Left');
/** CID 1006 Anatomical Reference Basis - Extremity. */
export const KNEE_JOINT = concept('49076000', SCT, 'Knee joint');
export const OSTEOARTHRITIS_OF_KNEE = concept('239873007', SCT, 'Osteoarthritis of knee');

/** DX views of CID 4010 for the View Position (0018,5101) values a knee series carries. */
export const VIEW_BY_POSITION: Readonly<Record<string, CodedConcept>> = Object.freeze({
  AP: concept('399348003', SCT, 'antero-posterior'),
  PA: concept('272479007', SCT, 'postero-anterior'),
  LL: concept('399173006', SCT, 'left lateral'),
  RL: concept('399198007', SCT, 'right lateral'),
});

/**
 * UCUM annotation of unity (UCUM Section 2.5: "{...}" is dimensionless): PS3.16 lists no
 * unit concept for a probability, and "1" ("no units", CID 7181) would lose the meaning.
 */
export const PROBABILITY_UNIT = concept('{probability}', UCUM, 'probability');

/** UCUM annotation of unity for a grade on an ordinal scale, as for the probability above. */
export const GRADE_UNIT = concept('{grade}', UCUM, 'grade');

// The comparison with an earlier study (src/sr/comparison.ts).
/** The earlier study's UID; as TID 1602 and the DICOM SR to FHIR IG name it. */
export const STUDY_INSTANCE_UID = concept('110180', DCM, 'Study Instance UID');
/** The earlier study's date (TID 1602 Image Library Entry Descriptors). */
export const STUDY_DATE = concept('111060', DCM, 'Study Date');
/** UCUM year (annum), for the interval. */
export const YEAR_UNIT = concept('a', UCUM, 'year');
export const MILLIMETRE_UNIT = concept('mm', UCUM, 'millimeter');
export const MILLIMETRE_PER_YEAR_UNIT = concept('mm/a', UCUM, 'millimeter per year');

// Joint-space width as TID 300 length measurements (src/measurement/, measurement-report.ts).
/** Length (SCT 410668003), the concept of a two-point distance, as OHIF's Length tool writes it. */
export const LENGTH = concept('410668003', SCT, 'Length');
/** PS3.16 CID 7181: a length on an image whose pixel spacing is not known. */
export const PIXEL_UNIT = concept('{pixels}', UCUM, 'pixels');
/** Comment (DCM 121106): free text OHIF shows as the first label line of a measurement. */
export const COMMENT = concept('121106', DCM, 'Comment');

/** CID 7005 Contributing Equipment Purposes of Reference; it has no "Processing Algorithm". */
export const PROCESSING_EQUIPMENT = concept('109102', DCM, 'Processing Equipment');

// SOP Classes (PS3.4 Annex B) and the transfer syntax written (PS3.5 Section 10.1).
export const COMPREHENSIVE_SR_STORAGE = '1.2.840.10008.5.1.4.1.1.88.33';
export const SECONDARY_CAPTURE_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** The private scheme of mappings/kl-grade-codes.json, as written to Coding Scheme Identification. */
export interface PrivateScheme {
  designator: string;
  name: string;
  version: string;
  responsibleOrganization: string;
  klGrade: CodedConcept;
  klGradeConfidence: CodedConcept;
  kneeCheckOutcome: CodedConcept;
  grades: readonly PrivateGrade[];
  /** Concepts of the comparison with an earlier study (src/sr/comparison.ts). */
  progression: ProgressionConcepts;
  /** Findings of the joint-space width measurements, `jointSpaceWidth` in the code table. */
  jointSpaceWidth: JointSpaceWidthConcepts;
}

export interface JointSpaceWidthConcepts {
  medialMinimum: CodedConcept;
  lateralMinimum: CodedConcept;
}

function parseJointSpaceWidth(value: unknown, scheme: string, path: string) {
  const fields = record(value, path, 'jointSpaceWidth');
  return Object.freeze({
    medialMinimum: privateConcept(
      fields.medialMinimum,
      scheme,
      path,
      'jointSpaceWidth.medialMinimum',
    ),
    lateralMinimum: privateConcept(
      fields.lateralMinimum,
      scheme,
      path,
      'jointSpaceWidth.lateralMinimum',
    ),
  });
}

/** The concept names of a comparison group, `progression` in the code table. */
export interface ProgressionConcepts {
  comparison: CodedConcept;
  interval: CodedConcept;
  klChange: CodedConcept;
  jswChange: CodedConcept;
  jswRate: CodedConcept;
  flag: CodedConcept;
}

const PROGRESSION_KEYS = [
  'comparison',
  'interval',
  'klChange',
  'jswChange',
  'jswRate',
  'flag',
] as const satisfies readonly (keyof ProgressionConcepts)[];

function parseProgression(value: unknown, scheme: string, path: string): ProgressionConcepts {
  const fields = record(value, path, 'progression');
  const entries = PROGRESSION_KEYS.map((key) => [
    key,
    privateConcept(fields[key], scheme, path, `progression.${key}`),
  ]);
  return Object.freeze(
    Object.fromEntries(entries) as Record<keyof ProgressionConcepts, CodedConcept>,
  );
}

export interface PrivateGrade {
  grade: number;
  code: CodedConcept;
  /** Short English label of the grade ("minimal"). */
  label: string;
  probability: CodedConcept;
}

const SH_MAX = 16;
const LO_MAX = 64;
const GRADES = 5;

function invalidTable(path: string, what: string): JointspaceError {
  return new JointspaceError('model-unavailable', `code table ${path}: ${what}`, { status: 503 });
}

function record(value: unknown, path: string, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidTable(path, `${where} must be an object`);
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, path: string, where: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw invalidTable(path, `${where} must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

function privateConcept(value: unknown, scheme: string, path: string, where: string) {
  const fields = record(value, path, where);
  return concept(
    text(fields.value, path, `${where}.value`, SH_MAX),
    scheme,
    text(fields.meaning, path, `${where}.meaning`, LO_MAX),
  );
}

function parseGrade(value: unknown, index: number, scheme: string, path: string): PrivateGrade {
  const where = `grades[${index}]`;
  const fields = record(value, path, where);
  if (fields.grade !== index) throw invalidTable(path, `${where}.grade must be ${index}`);
  return {
    grade: index,
    code: privateConcept(fields, scheme, path, where),
    label: text(fields.label, path, `${where}.label`, LO_MAX),
    probability: privateConcept(fields.probability, scheme, path, `${where}.probability`),
  };
}

/** Checks and freezes the private scheme; `path` only names the file in messages. */
export function parsePrivateScheme(json: unknown, path: string): PrivateScheme {
  const root = record(json, path, 'the file');
  const designator = text(root.codingSchemeDesignator, path, 'codingSchemeDesignator', SH_MAX);
  if (!designator.startsWith('99')) {
    throw invalidTable(path, 'codingSchemeDesignator must start with "99" (PS3.16 Section 8)');
  }
  const concepts = record(root.concepts, path, 'concepts');
  const grades = root.grades;
  if (!Array.isArray(grades) || grades.length !== GRADES) {
    throw invalidTable(path, `grades must list the ${GRADES} grades 0..4`);
  }
  const scheme: PrivateScheme = {
    designator,
    name: text(root.codingSchemeName, path, 'codingSchemeName', LO_MAX),
    version: text(root.codingSchemeVersion, path, 'codingSchemeVersion', SH_MAX),
    responsibleOrganization: text(
      root.codingSchemeResponsibleOrganization,
      path,
      'codingSchemeResponsibleOrganization',
      LO_MAX,
    ),
    klGrade: privateConcept(concepts.klGrade, designator, path, 'concepts.klGrade'),
    klGradeConfidence: privateConcept(
      concepts.klGradeConfidence,
      designator,
      path,
      'concepts.klGradeConfidence',
    ),
    kneeCheckOutcome: privateConcept(
      concepts.kneeCheckOutcome,
      designator,
      path,
      'concepts.kneeCheckOutcome',
    ),
    grades: grades.map((grade, index) => parseGrade(grade, index, designator, path)),
    progression: parseProgression(root.progression, designator, path),
    jointSpaceWidth: parseJointSpaceWidth(root.jointSpaceWidth, designator, path),
  };
  requireUniqueValues(scheme, path);
  return Object.freeze(scheme);
}

function requireUniqueValues(scheme: PrivateScheme, path: string): void {
  const values = [
    scheme.klGrade,
    scheme.klGradeConfidence,
    scheme.kneeCheckOutcome,
    ...scheme.grades.flatMap((grade) => [grade.code, grade.probability]),
    ...PROGRESSION_KEYS.map((key) => scheme.progression[key]),
    scheme.jointSpaceWidth.medialMinimum,
    scheme.jointSpaceWidth.lateralMinimum,
  ].map((code) => code.value);
  const duplicate = values.find((value, index) => values.indexOf(value) !== index);
  if (duplicate !== undefined) throw invalidTable(path, `code value "${duplicate}" is used twice`);
}

function loadPrivateScheme(path: string): PrivateScheme {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new JointspaceError(
      'model-unavailable',
      `code table ${path} cannot be read (${errorMessage(cause)})`,
      { cause, status: 503 },
    );
  }
  return parsePrivateScheme(json, path);
}

/** mappings/kl-grade-codes.json, found from this module's location (src/sr or dist/sr). */
export const PRIVATE_SCHEME_FILE = fromRoot('mappings', 'kl-grade-codes.json');

export const PRIVATE_SCHEME: PrivateScheme = loadPrivateScheme(PRIVATE_SCHEME_FILE);

/**
 * Concept name of the grade: as CODE (the coded result), as TEXT (viewers show no coded
 * values) and as NUM (OHIF labels a region with NUM items only; see measurement-report.ts).
 */
export const KL_GRADE = PRIVATE_SCHEME.klGrade;
/** Probability of the reported grade. */
export const KL_GRADE_CONFIDENCE = PRIVATE_SCHEME.klGradeConfidence;
/** The knee check's verdict, as the sentence a radiographer reads. */
export const KNEE_CHECK_OUTCOME = PRIVATE_SCHEME.kneeCheckOutcome;
/** Finding of a minimum joint-space width measurement, per compartment. */
export const JSW_MINIMUM = Object.freeze({
  medial: PRIVATE_SCHEME.jointSpaceWidth.medialMinimum,
  lateral: PRIVATE_SCHEME.jointSpaceWidth.lateralMinimum,
});

function gradeEntry(grade: number): PrivateGrade {
  const entry = PRIVATE_SCHEME.grades[grade];
  if (entry === undefined || !Number.isInteger(grade)) {
    throw new JointspaceError(
      'invalid-argument',
      `KL grade must be an integer 0..4, got ${String(grade)}`,
    );
  }
  return entry;
}

/** The coded value of a KL grade, e.g. (KL-2, 99JOINTSPACE, "Kellgren-Lawrence grade 2 (minimal)"). */
export function klGradeCode(grade: number): CodedConcept {
  return gradeEntry(grade).code;
}

/** The concept name of the probability of one grade. */
export function klGradeProbability(grade: number): CodedConcept {
  return gradeEntry(grade).probability;
}

/** The grade as a reader sees it: "KL grade 2 (minimal)". */
export function klGradeText(grade: number): string {
  return `KL grade ${grade} (${gradeEntry(grade).label})`;
}
