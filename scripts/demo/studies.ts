/**
 * Demo studies: DX For Presentation instances (PS3.3 A.26) made from knee-kl val crops, with a
 * synthetic patient, study date, laterality, view position and pixel spacing, written as Part 10
 * files by the project's own DICOM writer (src/sr/dataset.ts on dcmjs). A study of both knees
 * is one image built from two crops with test/grading/knee-composite.ts, as in
 * test/pipeline/bilateral.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { GrayImage } from '../../src/imaging/types.js';
import { writePart10, type Dataset } from '../../src/sr/dataset.js';
import { buildComposite, seededRandom } from '../../test/grading/knee-composite.js';

const DX_FOR_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.1';
const BITS_STORED = 12;
/** The knee-kl crops show about 140 mm of the knee across (DeepKnee's crops; src/measurement). */
const CROP_FIELD_MM = 140;

/** A fresh UID under 2.25 (PS3.5 B.2): a random 120-bit integer. */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`).toString()}`;
}

/** The patient attributes written into the demo's DICOM headers (all synthetic). */
export interface DemoPatientHeader {
  /** Patient ID, the identifier the FHIR Patient carries too. */
  id: string;
  /** DICOM PN, `Family^Given`. */
  dicomName: string;
  /** `YYYYMMDD`. */
  birthDate: string;
  sex: 'F' | 'M';
}

export interface DemoStudy {
  studyInstanceUid: string;
  files: Uint8Array[];
}

/** The `index`-th val crop (sorted by name) of grade `grade` whose name ends with `side`. */
export async function valCrop(
  valDir: string,
  grade: number,
  side: 'R' | 'L',
  index = 0,
): Promise<string> {
  const names = (await readdir(join(valDir, String(grade))))
    .filter((name) => name.endsWith(`${side}.png`))
    .sort();
  const name = names[index];
  if (name === undefined) throw new Error(`no val crop of grade ${grade}, side ${side}`);
  return join(valDir, String(grade), name);
}

async function grey(path: string): Promise<GrayImage> {
  const { data, info } = await sharp(path).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}

/** One knee crop as it is: Image Laterality `side`. */
export async function singleKneeImage(path: string, side: 'R' | 'L') {
  const image = await grey(path);
  return { image, laterality: side, pixelMm: CROP_FIELD_MM / image.width } as const;
}

/**
 * Both knees on one image (Image Laterality B): the patient's right knee on the image's left,
 * as radiographs are shown; each crop extended into a leg with synthetic shafts.
 */
export async function bilateralImage(right: string, left: string) {
  const [rightCrop, leftCrop] = await Promise.all([grey(right), grey(left)]);
  const composite = buildComposite(
    [
      { image: rightCrop, laterality: 'R' },
      { image: leftCrop, laterality: 'L' },
    ],
    seededRandom(7),
    { scale: [1.2, 1.2], maxRotation: 2, text: true },
  );
  const pixelMm = composite.truth[0]?.pixelMm ?? CROP_FIELD_MM / rightCrop.width;
  return { image: composite.image, laterality: 'B', pixelMm } as const;
}

export interface DemoImage {
  image: GrayImage;
  laterality: 'R' | 'L' | 'B';
  pixelMm: number;
}

/** A one-series, one-instance DX study of `patient` on `studyDate` (`YYYYMMDD`). */
export function dxStudy(
  patient: DemoPatientHeader,
  studyDate: string,
  accession: string,
  image: DemoImage,
): DemoStudy {
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  const sopInstanceUid = newUid();
  const { width, height, pixels } = image.image;
  const words = new Uint16Array(width * height);
  for (let i = 0; i < words.length; i++) words[i] = (pixels[i] ?? 0) << (BITS_STORED - 8);
  const mm = image.pixelMm.toFixed(6);
  const spacing = `${mm}\\${mm}`;
  const side = { R: 'right knee', L: 'left knee', B: 'both knees' }[image.laterality];

  const dataset: Dataset = {
    SpecificCharacterSet: 'ISO_IR 192',
    ImageType: ['ORIGINAL', 'PRIMARY'],
    SOPClassUID: DX_FOR_PRESENTATION,
    SOPInstanceUID: sopInstanceUid,
    StudyDate: studyDate,
    SeriesDate: studyDate,
    ContentDate: studyDate,
    StudyTime: '093000',
    SeriesTime: '093000',
    ContentTime: '093012',
    AccessionNumber: accession,
    Modality: 'DX',
    PresentationIntentType: 'FOR PRESENTATION',
    Manufacturer: 'jointspace-demo synthetic',
    InstitutionName: 'Demo Hospital (synthetic)',
    ReferringPhysicianName: '',
    StudyDescription: `XR knee ${side} (synthetic demo)`,
    SeriesDescription: `Knee PA ${image.laterality}`,
    AnatomicRegionSequence: [
      { CodeValue: '72696002', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Knee' },
    ],
    PatientName: patient.dicomName,
    PatientID: patient.id,
    PatientBirthDate: patient.birthDate,
    PatientSex: patient.sex,
    BodyPartExamined: 'KNEE',
    ViewPosition: 'PA',
    ImagerPixelSpacing: spacing,
    StudyInstanceUID: studyInstanceUid,
    SeriesInstanceUID: seriesInstanceUid,
    StudyID: accession,
    SeriesNumber: '1',
    InstanceNumber: '1',
    PatientOrientation: ['L', 'F'],
    ImageLaterality: image.laterality,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: height,
    Columns: width,
    PixelSpacing: spacing,
    BitsAllocated: 16,
    BitsStored: BITS_STORED,
    HighBit: BITS_STORED - 1,
    PixelRepresentation: 0,
    WindowCenter: '2048',
    WindowWidth: '4096',
    RescaleIntercept: '0',
    RescaleSlope: '1',
    RescaleType: 'US',
    LossyImageCompression: '00',
    PixelIntensityRelationship: 'LIN',
    PixelIntensityRelationshipSign: 1,
    PresentationLUTShape: 'IDENTITY',
    BurnedInAnnotation: 'NO',
    PixelData: [words.buffer],
    _vrMap: { PixelData: 'OW' },
  };
  return {
    studyInstanceUid,
    files: [writePart10(dataset, DX_FOR_PRESENTATION, sopInstanceUid)],
  };
}
