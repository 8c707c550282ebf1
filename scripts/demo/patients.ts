/**
 * The demo's synthetic patients: obviously fake names and identifiers (JS-DEMO-…), their FHIR
 * records (birth date, BMI, pain scores over time, comorbidities, past treatments), and the
 * knee studies the demo sends for them. Built with the record builders of test/fhir/records.ts.
 */
import type { Resource } from '@medplum/fhirtypes';
import {
  ATC,
  HOSPITAL_A,
  ROUTE,
  SCT,
  UCUM,
  concept,
  condition,
  medicationStatement,
  observation,
  patient,
  procedure,
} from '../../test/fhir/records.js';
import type { DemoPatientHeader } from './studies.js';

export interface DemoPatient extends DemoPatientHeader {
  /** Shown in the summary. */
  label: string;
  records: Resource[];
}

/** One study the demo sends: whose, when, and which val crops (by reference grade) show it. */
export interface PlannedStudy {
  patient: DemoPatient;
  /** `YYYYMMDD`. */
  studyDate: string;
  accession: string;
  /** One knee, or both on one image (`B`: grade of the right crop, then the left). */
  knees: { side: 'R' | 'L'; grade: number }[];
  /** Sent once the studies it follows have been graded (progression needs the baseline). */
  after?: PlannedStudy;
}

function demoPatient(
  id: string,
  family: string,
  given: string,
  birthDate: string,
  sex: 'F' | 'M',
  build: (fhirId: string) => Resource[],
): DemoPatient {
  const fhirId = id.toLowerCase();
  const person = patient(fhirId, {
    identifiers: [{ system: HOSPITAL_A, value: id }],
    birthDate: `${birthDate.slice(0, 4)}-${birthDate.slice(4, 6)}-${birthDate.slice(6)}`,
    gender: sex === 'F' ? 'female' : 'male',
  });
  person.name = [{ family, given: [given], text: `${given} ${family} (synthetic)` }];
  return {
    id,
    dicomName: `${family}^${given}`,
    birthDate,
    sex,
    label: `${given} ${family} (${id})`,
    records: [person, ...build(fhirId)],
  };
}

const pain = (id: string, patientId: string, score: number, date: string) =>
  observation(id, patientId, '72514-3', { valueInteger: score }, date);
const bmi = (id: string, patientId: string, value: number, date: string) =>
  observation(
    id,
    patientId,
    '39156-5',
    { valueQuantity: { value, system: UCUM, code: 'kg/m2', unit: 'kg/m2' } },
    date,
  );

/** Pain rising over three years, exercise therapy and paracetamol in the past. */
const ada = demoPatient('JS-DEMO-1', 'Demopatient', 'Ada', '19560412', 'F', (p) => [
  bmi(`${p}-bmi`, p, 29.4, '2023-11-02'),
  pain(`${p}-pain-1`, p, 3, '2021-02-20'),
  pain(`${p}-pain-2`, p, 5, '2022-09-14'),
  pain(`${p}-pain-3`, p, 6, '2023-10-05'),
  pain(`${p}-pain-4`, p, 7, '2024-02-27'),
  procedure(`${p}-physio`, p, concept(SCT, '229065009', 'Exercise therapy'), {
    start: '2021-04-01',
    end: '2021-07-01',
  }),
  medicationStatement(`${p}-paracetamol`, p, concept(ATC, 'N02BE01', 'paracetamol'), {
    status: 'completed',
    start: '2021-03-20',
    end: '2022-03-20',
    route: ROUTE.oral,
  }),
]);

/** Chronic kidney disease and coronary disease: no oral NSAID for him. */
const bruno = demoPatient('JS-DEMO-2', 'Examplepatient', 'Bruno', '19490930', 'M', (p) => [
  bmi(`${p}-bmi`, p, 33.1, '2024-03-18'),
  pain(`${p}-pain-1`, p, 6, '2023-12-01'),
  pain(`${p}-pain-2`, p, 7, '2024-04-22'),
  condition(`${p}-ckd`, p, concept(SCT, '433144002', 'Chronic kidney disease stage 3'), {
    onset: '2019-06-01',
  }),
  condition(`${p}-cad`, p, concept(SCT, '53741008', 'Coronary arteriosclerosis'), {
    onset: '2016-01-15',
  }),
  medicationStatement(`${p}-ibuprofen`, p, concept(ATC, 'M01AE01', 'ibuprofen'), {
    status: 'stopped',
    start: '2018-05-01',
    end: '2019-06-01',
    route: ROUTE.oral,
  }),
  procedure(`${p}-injection`, p, concept(SCT, '231274008', 'Injection of steroid into joint'), {
    start: '2023-09-12',
  }),
]);

/** Moderate pain in both knees, a topical NSAID now. */
const chidi = demoPatient('JS-DEMO-3', 'Samplepatient', 'Chidi', '19621102', 'F', (p) => [
  bmi(`${p}-bmi`, p, 27.0, '2024-01-10'),
  pain(`${p}-pain-1`, p, 4, '2023-08-01'),
  pain(`${p}-pain-2`, p, 5, '2024-03-30'),
  medicationStatement(`${p}-diclofenac-gel`, p, concept(ATC, 'M02AA15', 'diclofenac'), {
    start: '2023-08-15',
    route: ROUTE.topical,
  }),
  observation(`${p}-koos-jr`, p, '82332-8', { valueQuantity: { value: 61.2 } }, '2024-03-30'),
]);

export const DEMO_PATIENTS: DemoPatient[] = [ada, bruno, chidi];

const adaBaseline: PlannedStudy = {
  patient: ada,
  studyDate: '20210315',
  accession: 'DEMO0001',
  knees: [{ side: 'L', grade: 0 }],
};

/** Four studies, five knees: one knee followed for three years, one image of both knees. */
export const DEMO_STUDIES: PlannedStudy[] = [
  adaBaseline,
  {
    patient: bruno,
    studyDate: '20240506',
    accession: 'DEMO0002',
    knees: [{ side: 'R', grade: 3 }],
  },
  {
    patient: chidi,
    studyDate: '20240422',
    accession: 'DEMO0003',
    knees: [
      { side: 'R', grade: 2 },
      { side: 'L', grade: 3 },
    ],
  },
  {
    patient: ada,
    studyDate: '20240312',
    accession: 'DEMO0004',
    knees: [{ side: 'L', grade: 3 }],
    after: adaBaseline,
  },
];
