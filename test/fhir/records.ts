/**
 * Synthetic FHIR records for the tests: builders for the resources the patient reader reads,
 * and whole patients. Every identity is obviously fake ("Testpatient", identifiers "JS-FHIR-…",
 * systems under the example OID arc 2.25).
 */
import type {
  CodeableConcept,
  Condition,
  Medication,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Patient,
  Procedure,
  Quantity,
  Resource,
} from '@medplum/fhirtypes';

export const LOINC = 'http://loinc.org';
export const SCT = 'http://snomed.info/sct';
export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
export const ATC = 'http://www.whocc.no/atc';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const UCUM = 'http://unitsofmeasure.org';
export const HOSPITAL_A = 'urn:oid:2.25.4242.1';
export const HOSPITAL_B = 'urn:oid:2.25.4242.2';

export const ROUTE = {
  oral: { coding: [{ system: SCT, code: '26643006', display: 'Oral route' }] },
  topical: { coding: [{ system: SCT, code: '6064005', display: 'Topical route' }] },
  intraArticular: { coding: [{ system: SCT, code: '12130007', display: 'Intra-articular route' }] },
} satisfies Record<string, CodeableConcept>;

export function concept(system: string, code: string, display?: string): CodeableConcept {
  return { coding: [{ system, code, ...(display === undefined ? {} : { display }) }] };
}

export function quantity(value: number, code: string): Quantity {
  return { value, system: UCUM, code, unit: code };
}

export function patient(
  id: string,
  options: {
    identifiers?: { system?: string; value: string }[];
    birthDate?: string;
    gender?: Patient['gender'];
  } = {},
): Patient {
  return {
    resourceType: 'Patient',
    id,
    identifier: options.identifiers ?? [],
    name: [{ family: 'Testpatient', given: [id] }],
    ...(options.birthDate === undefined ? {} : { birthDate: options.birthDate }),
    ...(options.gender === undefined ? {} : { gender: options.gender }),
  };
}

type ObservationValue = Pick<Observation, 'valueQuantity' | 'valueInteger' | 'dataAbsentReason'>;

export function observation(
  id: string,
  patientId: string,
  loinc: string,
  value: ObservationValue,
  date: string | undefined,
  status: Observation['status'] = 'final',
): Observation {
  return {
    resourceType: 'Observation',
    id,
    status,
    code: concept(LOINC, loinc),
    subject: { reference: `Patient/${patientId}` },
    ...(date === undefined ? {} : { effectiveDateTime: date }),
    ...value,
  };
}

export function condition(
  id: string,
  patientId: string,
  code: CodeableConcept,
  options: { clinicalStatus?: string; verificationStatus?: string; onset?: string } = {},
): Condition {
  const status = (system: string, value: string | undefined) =>
    value === undefined ? undefined : { coding: [{ system, code: value }] };
  const clinicalStatus = status(
    'http://terminology.hl7.org/CodeSystem/condition-clinical',
    options.clinicalStatus ?? 'active',
  );
  const verificationStatus = status(
    'http://terminology.hl7.org/CodeSystem/condition-ver-status',
    options.verificationStatus,
  );
  return {
    resourceType: 'Condition',
    id,
    subject: { reference: `Patient/${patientId}` },
    code,
    ...(options.clinicalStatus === 'none' ? {} : { clinicalStatus }),
    ...(verificationStatus === undefined ? {} : { verificationStatus }),
    ...(options.onset === undefined ? {} : { onsetDateTime: options.onset }),
  };
}

export function medicationStatement(
  id: string,
  patientId: string,
  medication: CodeableConcept | string,
  options: {
    status?: MedicationStatement['status'];
    start?: string;
    end?: string;
    route?: CodeableConcept;
  } = {},
): MedicationStatement {
  return {
    resourceType: 'MedicationStatement',
    id,
    status: options.status ?? 'active',
    subject: { reference: `Patient/${patientId}` },
    ...(typeof medication === 'string'
      ? { medicationReference: { reference: medication } }
      : { medicationCodeableConcept: medication }),
    ...(options.end === undefined
      ? options.start === undefined
        ? {}
        : { effectiveDateTime: options.start }
      : { effectivePeriod: { start: options.start, end: options.end } }),
    ...(options.route === undefined ? {} : { dosage: [{ route: options.route }] }),
  };
}

export function medicationRequest(
  id: string,
  patientId: string,
  medication: CodeableConcept | string,
  options: {
    status?: MedicationRequest['status'];
    intent?: MedicationRequest['intent'];
    authoredOn?: string;
    route?: CodeableConcept;
  } = {},
): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id,
    status: options.status ?? 'active',
    intent: options.intent ?? 'order',
    subject: { reference: `Patient/${patientId}` },
    ...(typeof medication === 'string'
      ? { medicationReference: { reference: medication } }
      : { medicationCodeableConcept: medication }),
    ...(options.authoredOn === undefined ? {} : { authoredOn: options.authoredOn }),
    ...(options.route === undefined ? {} : { dosageInstruction: [{ route: options.route }] }),
  };
}

export function medication(id: string, code: CodeableConcept): Medication {
  return { resourceType: 'Medication', id, code };
}

export function procedure(
  id: string,
  patientId: string,
  code: CodeableConcept,
  options: { status?: Procedure['status']; start?: string; end?: string } = {},
): Procedure {
  return {
    resourceType: 'Procedure',
    id,
    status: options.status ?? 'completed',
    subject: { reference: `Patient/${patientId}` },
    code,
    ...(options.end === undefined
      ? options.start === undefined
        ? {}
        : { performedDateTime: options.start }
      : { performedPeriod: { start: options.start, end: options.end } }),
  };
}

/** The study date of the patients below. */
export const STUDY_DATE = '2024-05-10';

const pain = (id: string, patientId: string, score: number, date: string, loinc = '72514-3') =>
  observation(id, patientId, loinc, { valueInteger: score }, date);

/**
 * A patient with everything on record: 65 at the study date, female; four pain scores over
 * 11 months rising from 4 to 7 (one with the other pain code and a score unit); a recorded BMI
 * newer than the weight and height; KOOS JR and two KOOS subscales; diabetes and CKD (one by
 * SNOMED CT, one by ICD-10-CM), a resolved peptic ulcer (which still counts), resolved
 * depression (which does not), hypertension (not a listed condition); a topical NSAID now, an
 * oral NSAID course, paracetamol stopped, an oral NSAID prescribed through a Medication
 * resource, four months of physiotherapy, a steroid injection; an opioid that was only
 * intended and an opioid proposal, neither counted.
 */
export function fullPatient(id = 'full'): Resource[] {
  return [
    patient(id, {
      identifiers: [{ system: HOSPITAL_A, value: 'JS-FHIR-FULL' }],
      birthDate: '1958-06-15',
      gender: 'female',
    }),
    pain(`${id}-pain-1`, id, 4, '2023-06-01'),
    pain(`${id}-pain-2`, id, 5, '2023-11-20T09:30:00+01:00'),
    observation(
      `${id}-pain-3`,
      id,
      '38208-5',
      { valueQuantity: quantity(6, '{score}') },
      '2024-02-10',
    ),
    pain(`${id}-pain-4`, id, 7, '2024-04-30'),
    observation(
      `${id}-bmi`,
      id,
      '39156-5',
      { valueQuantity: quantity(31.2, 'kg/m2') },
      '2024-03-01',
    ),
    observation(`${id}-weight`, id, '29463-7', { valueQuantity: quantity(85, 'kg') }, '2023-01-01'),
    observation(`${id}-height`, id, '8302-2', { valueQuantity: quantity(165, 'cm') }, '2020-01-01'),
    observation(`${id}-koos-jr`, id, '82332-8', { valueQuantity: { value: 52.3 } }, '2024-04-30'),
    observation(`${id}-koos-pain`, id, '72102-7', { valueInteger: 45 }, '2024-04-30'),
    observation(`${id}-koos-adl`, id, '72100-1', { valueInteger: 50 }, '2024-04-30'),
    condition(`${id}-diabetes`, id, concept(SCT, '44054006', 'Diabetes mellitus type 2')),
    condition(`${id}-ckd`, id, concept(ICD10CM, 'N18.3', 'Chronic kidney disease, stage 3')),
    condition(`${id}-ulcer`, id, concept(SCT, '13200003', 'Peptic ulcer'), {
      clinicalStatus: 'resolved',
    }),
    condition(`${id}-depression`, id, concept(ICD10, 'F32.1'), { clinicalStatus: 'resolved' }),
    condition(`${id}-hypertension`, id, concept(SCT, '38341003', 'Hypertensive disorder')),
    medicationStatement(`${id}-diclofenac-gel`, id, concept(ATC, 'M02AA15', 'diclofenac'), {
      start: '2023-09-01',
    }),
    medicationStatement(`${id}-ibuprofen`, id, concept(RXNORM, '5640', 'ibuprofen'), {
      status: 'completed',
      start: '2023-01-10',
      end: '2023-03-10',
      route: ROUTE.oral,
    }),
    medicationStatement(`${id}-paracetamol`, id, concept(ATC, 'N02BE01', 'paracetamol'), {
      status: 'stopped',
      start: '2022-10-01',
    }),
    medicationStatement(`${id}-tramadol`, id, concept(RXNORM, '10689', 'tramadol'), {
      status: 'intended',
    }),
    medication(`${id}-naproxen`, concept(ATC, 'M01AE02', 'naproxen')),
    medicationRequest(`${id}-naproxen-order`, id, `Medication/${id}-naproxen`, {
      status: 'completed',
      authoredOn: '2023-05-01',
    }),
    medicationRequest(`${id}-opioid-proposal`, id, concept(ATC, 'N02AX02', 'tramadol'), {
      status: 'draft',
      intent: 'proposal',
    }),
    procedure(`${id}-physio`, id, concept(SCT, '91251008', 'Physical therapy procedure'), {
      start: '2023-02-01',
      end: '2023-06-01',
    }),
    procedure(`${id}-injection`, id, concept(SCT, '231274008', 'Injection of steroid into joint'), {
      start: '2024-01-15',
    }),
  ];
}

/** No BMI on record: weight 198 lb and height 66 in (BMI 32.0), a pain score. */
export function imperialPatient(id = 'imperial'): Resource[] {
  return [
    patient(id, {
      identifiers: [{ system: HOSPITAL_A, value: 'JS-FHIR-IMPERIAL' }],
      birthDate: '1970-01-20',
      gender: 'male',
    }),
    observation(
      `${id}-weight`,
      id,
      '29463-7',
      { valueQuantity: quantity(198, '[lb_av]') },
      '2024-04-01',
    ),
    observation(
      `${id}-height`,
      id,
      '8302-2',
      { valueQuantity: quantity(66, '[in_i]') },
      '2024-04-01',
    ),
    pain(`${id}-pain`, id, 5, '2024-04-01'),
  ];
}

/**
 * Absurd and malformed values next to good ones: pain 42/10, BMI 400, a weight without unit, a
 * height of 0 cm, a weight in stones, a preliminary pain score, a pain score without date.
 */
export function absurdPatient(id = 'absurd'): Resource[] {
  return [
    patient(id, {
      identifiers: [{ system: HOSPITAL_A, value: 'JS-FHIR-ABSURD' }],
      birthDate: '1960-03-03',
      gender: 'other',
    }),
    pain(`${id}-pain-42`, id, 42, '2024-04-01'),
    pain(`${id}-pain-ok`, id, 6, '2024-04-02'),
    observation(
      `${id}-pain-preliminary`,
      id,
      '72514-3',
      { valueInteger: 3 },
      '2024-04-03',
      'preliminary',
    ),
    observation(`${id}-pain-undated`, id, '72514-3', { valueInteger: 3 }, undefined),
    observation(
      `${id}-bmi-400`,
      id,
      '39156-5',
      { valueQuantity: quantity(400, 'kg/m2') },
      '2024-04-01',
    ),
    observation(
      `${id}-weight-no-unit`,
      id,
      '29463-7',
      { valueQuantity: { value: 80 } },
      '2024-04-01',
    ),
    observation(
      `${id}-weight-stone`,
      id,
      '29463-7',
      { valueQuantity: { value: 12, unit: 'st' } },
      '2024-03-01',
    ),
    observation(`${id}-height-0`, id, '8302-2', { valueQuantity: quantity(0, 'cm') }, '2024-04-01'),
  ];
}
