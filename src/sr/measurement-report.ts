/**
 * The KL grading of a study as a DICOM Comprehensive SR (PS3.3 A.35.3) following TID 1500
 * Measurement Report (PS3.16): what OHIF and other viewers display next to the images.
 *
 * Pure: data in, Part 10 bytes out, nothing logged. The content tree, template rows and codes
 * are described in src/sr/README.md.
 */
import type { JswResult } from '../measurement/jsw.js';
import { comparisonContentItems, type KneeComparison } from './comparison.js';
import {
  ALGORITHM_NAME,
  ALGORITHM_VERSION,
  COMMENT,
  COMPREHENSIVE_SR_STORAGE,
  DEVICE,
  DEVICE_OBSERVER_MANUFACTURER,
  DEVICE_OBSERVER_MODEL_NAME,
  DEVICE_OBSERVER_NAME,
  DEVICE_OBSERVER_UID,
  ENGLISH,
  FINDING,
  FINDING_SITE,
  GRADE_UNIT,
  IMAGE_LATERALITY,
  IMAGE_LIBRARY,
  IMAGE_LIBRARY_GROUP,
  IMAGE_REGION,
  IMAGE_VIEW,
  IMAGING_MEASUREMENT_REPORT,
  IMAGING_MEASUREMENTS,
  IMAGING_PROCEDURE,
  JSW_MINIMUM,
  KL_GRADE,
  KL_GRADE_CONFIDENCE,
  KNEE_CHECK_OUTCOME,
  KNEE_JOINT,
  LANGUAGE_OF_CONTENT,
  LATERALITY,
  LEFT,
  LENGTH,
  MEASUREMENT_GROUP,
  MILLIMETRE_UNIT,
  OBSERVER_TYPE,
  OSTEOARTHRITIS_OF_KNEE,
  PIXEL_UNIT,
  PROBABILITY_UNIT,
  PROCEDURE_REPORTED,
  RIGHT,
  TRACKING_IDENTIFIER,
  TRACKING_UNIQUE_IDENTIFIER,
  VIEW_BY_POSITION,
  klGradeCode,
  klGradeProbability,
  klGradeText,
  type CodedConcept,
} from './codes.js';
import {
  MANUFACTURER,
  SPECIFIC_CHARACTER_SET,
  checkAlgorithm,
  checkGrading,
  checkRegion,
  checkSourceHeader,
  checkSourceImage,
  checkTimestamp,
  codeItem,
  codingSchemeIdentification,
  contributingEquipment,
  decimalString,
  generalEquipment,
  invalid,
  isPositiveInteger,
  modelId,
  patientAndStudy,
  requireUid,
  timestamps,
  writePart10,
  type AlgorithmIdentity,
  type Dataset,
  type ImageRegion,
  type KneeGrading,
  type SourceHeader,
  type SourceImage,
} from './dataset.js';
import { algorithmDeviceUid, measurementReportUids, trackingUid } from './uids.js';

/** One graded knee: the grading of one knee on one source image. */
export interface GradedKnee {
  /** SOP Instance UID of the source image (one of MeasurementReportInput.images). */
  sopInstanceUid: string;
  /** Which knee; defaults to the image's Image Laterality. */
  laterality?: 'R' | 'L';
  grading: KneeGrading;
  /** The graded region on the source image; the whole image by default. */
  region?: ImageRegion;
  /**
   * Tracking Identifier (112039); the default is a readable "KL grade, right knee, image 1".
   * OHIF 3.12 takes the region for its RectangleROI tool by its shape whatever this says, and
   * cannot track it either way (src/sr/README.md, "In OHIF").
   */
  trackingIdentifier?: string;
  /** Minimum joint-space widths of this knee (src/measurement/jsw.ts), at most one per compartment. */
  jsw?: JswLength[];
  /** The change since the knee's earlier result (src/care/progression.ts), when there is one. */
  comparison?: KneeComparison;
}

/**
 * One minimum joint-space width as a line on the source image. Points are in pixel-index
 * coordinates of the source image, as src/measurement/jsw.ts gives them (the centre of the
 * top left pixel is (0, 0)); the SR shifts them by half a pixel to its own convention.
 */
export interface JswLength {
  compartment: 'medial' | 'lateral';
  /** On the femoral condyle margin. */
  femurPoint: { x: number; y: number };
  /** On the tibial plateau margin. */
  tibiaPoint: { x: number; y: number };
  /** Millimetres only when the source's pixel spacing is known; otherwise pixels. */
  value: number;
  unit: 'mm' | 'px';
}

/** The minimum of each measured compartment, as the SR and the overlay draw it. */
export function jswLengths(result: JswResult): JswLength[] {
  if (result.status === 'refused') return [];
  return [result.medial, result.lateral].flatMap((c) =>
    c.status === 'measured'
      ? [
          {
            compartment: c.compartment,
            femurPoint: c.femurPoint,
            tibiaPoint: c.tibiaPoint,
            value: c.minWidth,
            unit: result.unit,
          },
        ]
      : [],
  );
}

/**
 * The Tracking Identifier OHIF 3.12 needs to list a two-point line as a measurement of its
 * Length tool (the cornerstone adapters' tag and tool name; docs/standards.md).
 */
export const LENGTH_TRACKING_IDENTIFIER = 'Cornerstone3DTools@^0.1.0:Length';

export interface MeasurementReportInput {
  header: SourceHeader;
  /** Every source image of the study that was looked at, in display order. */
  images: SourceImage[];
  knees: GradedKnee[];
  algorithm: AlgorithmIdentity;
  /** Content and instance creation time; explicit, so the same input gives the same bytes. */
  contentDateTime: Date;
  /** Series Number (0020,0011); 9001 by default, so the series sorts after the source's. */
  seriesNumber?: number;
  /** Instance Number (0020,0013); 1 by default. */
  instanceNumber?: number;
}

/** Series Description of every SR: names the product and says the content is unverified. */
export const SR_SERIES_DESCRIPTION = 'jointspace KL grading (AI, unverified)';

const DEFAULT_SERIES_NUMBER = 9001;

type Relationship =
  | 'CONTAINS'
  | 'HAS OBS CONTEXT'
  | 'HAS CONCEPT MOD'
  | 'HAS ACQ CONTEXT'
  | 'SELECTED FROM'
  | 'INFERRED FROM';

/**
 * Builds the SR: SR Document Series, SR Document General and SR Document Content modules
 * (PS3.3 C.17.1-C.17.3) over the copied Patient and General Study modules.
 */
export function buildMeasurementReport(input: MeasurementReportInput): Uint8Array {
  checkInput(input);
  const uids = measurementReportUids(input.header.StudyInstanceUID, modelId(input.algorithm));
  const dataset: Dataset = {
    SOPClassUID: COMPREHENSIVE_SR_STORAGE,
    SOPInstanceUID: uids.sopInstanceUid,
    SpecificCharacterSet: SPECIFIC_CHARACTER_SET,
    ...timestamps(input.contentDateTime),
    ...patientAndStudy(input.header),
    ...srDocumentSeries(uids.seriesInstanceUid, input.seriesNumber),
    ...generalEquipment(input.algorithm),
    ...srDocumentGeneral(input),
    ...documentRoot(input),
    ContributingEquipmentSequence: contributingEquipment(input.algorithm, input.contentDateTime),
    CodingSchemeIdentificationSequence: codingSchemeIdentification(),
  };
  return writePart10(dataset, COMPREHENSIVE_SR_STORAGE, uids.sopInstanceUid);
}

function checkInput(input: MeasurementReportInput): void {
  checkSourceHeader(input.header);
  checkAlgorithm(input.algorithm);
  checkTimestamp(input.contentDateTime);
  if (input.images.length === 0) throw invalid('images must list at least one source image');
  if (input.knees.length === 0) throw invalid('knees must list at least one graded knee');
  input.images.forEach((image, index) => {
    checkSourceImage(image, `images[${index}]`);
  });
  input.knees.forEach((knee, index) => {
    checkKnee(knee, input.images, `knees[${index}]`);
  });
  checkNumber(input.seriesNumber, 'seriesNumber');
  checkNumber(input.instanceNumber, 'instanceNumber');
}

function checkKnee(knee: GradedKnee, images: SourceImage[], name: string): void {
  requireUid(knee.sopInstanceUid, `${name}.sopInstanceUid`);
  const image = images.find((candidate) => candidate.sopInstanceUid === knee.sopInstanceUid);
  if (image === undefined) throw invalid(`${name}.sopInstanceUid must be one of images`);
  checkGrading(knee.grading, `${name}.grading`);
  if (knee.region !== undefined) {
    checkRegion(knee.region, image.columns, image.rows, `${name}.region`);
  }
  const compartments = new Set<string>();
  (knee.jsw ?? []).forEach((length, index) => {
    checkLength(length, image, `${name}.jsw[${index}]`);
    if (compartments.has(length.compartment)) {
      throw invalid(`${name}.jsw lists the ${length.compartment} compartment twice`);
    }
    compartments.add(length.compartment);
  });
}

function checkLength(length: JswLength, image: SourceImage, name: string): void {
  // Checked at run time too: the input may come from JSON.
  if (!(['medial', 'lateral'] as string[]).includes(length.compartment)) {
    throw invalid(`${name}.compartment must be "medial" or "lateral"`);
  }
  if (!(['mm', 'px'] as string[]).includes(length.unit)) {
    throw invalid(`${name}.unit must be "mm" or "px"`);
  }
  if (length.unit === 'mm' && image.pixelSpacing === undefined) {
    throw invalid(`${name}.unit is "mm" but the source image has no pixel spacing`);
  }
  if (!Number.isFinite(length.value) || length.value < 0) {
    throw invalid(`${name}.value must be a finite number >= 0`);
  }
  for (const key of ['femurPoint', 'tibiaPoint'] as const) {
    const { x, y } = length[key];
    const inside = x >= -0.5 && y >= -0.5 && x <= image.columns - 0.5 && y <= image.rows - 0.5;
    if (!Number.isFinite(x) || !Number.isFinite(y) || !inside) {
      throw invalid(`${name}.${key} must lie on the source image (pixel-index coordinates)`);
    }
  }
}

function checkNumber(value: number | undefined, name: string): void {
  if (value !== undefined && !isPositiveInteger(value)) {
    throw invalid(`${name} must be a positive integer`);
  }
}

/** SR Document Series Module (PS3.3 C.17.1). */
function srDocumentSeries(seriesInstanceUid: string, seriesNumber?: number): Dataset {
  return {
    Modality: 'SR',
    SeriesInstanceUID: seriesInstanceUid,
    SeriesNumber: seriesNumber ?? DEFAULT_SERIES_NUMBER,
    SeriesDescription: SR_SERIES_DESCRIPTION,
    ReferencedPerformedProcedureStepSequence: [],
  };
}

/** SR Document General Module (PS3.3 C.17.2): unverified, with the evidence it rests on. */
function srDocumentGeneral(input: MeasurementReportInput): Dataset {
  return {
    InstanceNumber: input.instanceNumber ?? 1,
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: evidence(input.header, input.images),
  };
}

/** Hierarchical SOP Instance Reference Macro (PS3.3 Table C.17-3): study, series, instances. */
function evidence(header: SourceHeader, images: SourceImage[]): Dataset[] {
  const series = new Map<string, SourceImage[]>();
  for (const image of images) {
    series.set(image.seriesInstanceUid, [...(series.get(image.seriesInstanceUid) ?? []), image]);
  }
  const referencedSeries = [...series].map(([seriesInstanceUid, members]) => ({
    SeriesInstanceUID: seriesInstanceUid,
    ReferencedSOPSequence: members.map(sopReference),
  }));
  return [
    { StudyInstanceUID: header.StudyInstanceUID, ReferencedSeriesSequence: referencedSeries },
  ];
}

function sopReference(image: SourceImage): Dataset {
  return {
    ReferencedSOPClassUID: image.sopClassUid,
    ReferencedSOPInstanceUID: image.sopInstanceUid,
  };
}

/** SR Document Content Module (PS3.3 C.17.3): the root of TID 1500. */
function documentRoot(input: MeasurementReportInput): Dataset {
  return {
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [codeItem(IMAGING_MEASUREMENT_REPORT)],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: [
      code('HAS CONCEPT MOD', LANGUAGE_OF_CONTENT, ENGLISH),
      ...deviceObserver(input.algorithm),
      code('HAS CONCEPT MOD', PROCEDURE_REPORTED, IMAGING_PROCEDURE),
      imageLibrary(input.images),
      container('CONTAINS', IMAGING_MEASUREMENTS, measurementGroups(input)),
    ],
  };
}

/** TID 1002 Observer Context with TID 1004 Device Observer Identifying Attributes. */
function deviceObserver(algorithm: AlgorithmIdentity): Dataset[] {
  return [
    code('HAS OBS CONTEXT', OBSERVER_TYPE, DEVICE),
    uidref('HAS OBS CONTEXT', DEVICE_OBSERVER_UID, algorithmDeviceUid(algorithm.sha256)),
    text('HAS OBS CONTEXT', DEVICE_OBSERVER_NAME, modelId(algorithm)),
    text('HAS OBS CONTEXT', DEVICE_OBSERVER_MANUFACTURER, MANUFACTURER),
    text('HAS OBS CONTEXT', DEVICE_OBSERVER_MODEL_NAME, algorithm.name),
  ];
}

/** TID 1600 Image Library: one TID 1601 entry per source image, with TID 1602 descriptors. */
function imageLibrary(images: SourceImage[]): Dataset {
  const entries = images.map((image) => imageItem('CONTAINS', image, imageDescriptors(image)));
  return container('CONTAINS', IMAGE_LIBRARY, [
    container('CONTAINS', IMAGE_LIBRARY_GROUP, entries),
  ]);
}

function imageDescriptors(image: SourceImage): Dataset[] {
  const descriptors: Dataset[] = [];
  if (image.imageLaterality !== undefined) {
    descriptors.push(code('HAS ACQ CONTEXT', IMAGE_LATERALITY, side(image.imageLaterality)));
  }
  const view = image.viewPosition === undefined ? undefined : VIEW_BY_POSITION[image.viewPosition];
  if (view !== undefined) descriptors.push(code('HAS ACQ CONTEXT', IMAGE_VIEW, view));
  return descriptors;
}

function side(laterality: 'R' | 'L'): CodedConcept {
  return laterality === 'R' ? RIGHT : LEFT;
}

function measurementGroups(input: MeasurementReportInput): Dataset[] {
  return input.knees.flatMap((knee) => {
    const index = input.images.findIndex((image) => image.sopInstanceUid === knee.sopInstanceUid);
    const image = input.images[index];
    if (image === undefined) throw invalid('every knee must reference one of images');
    return [
      measurementGroup(knee, image, index, input),
      ...(knee.jsw ?? []).map((length) => lengthGroup(length, knee, image, input)),
    ];
  });
}

/** "Medial minimum JSW, right knee". */
function lengthComment(length: JswLength, laterality: 'R' | 'L' | undefined): string {
  const which = laterality === 'R' ? ', right knee' : laterality === 'L' ? ', left knee' : '';
  const compartment = length.compartment === 'medial' ? 'Medial' : 'Lateral';
  return `${compartment} minimum JSW${which}`;
}

/**
 * One minimum joint-space width as a TID 1501 group holding a TID 300 length measurement, the
 * shape OHIF's Length tool writes and reads back (cornerstone adapters, Length and
 * MeasurementReport.getSetupMeasurementData): the tool's Tracking Identifier, a Finding, the
 * Finding Site, and a NUM (410668003, SCT, "Length") inferred from a two-point SCOORD
 * POLYLINE selected from the source image, in mm or, without pixel spacing, {pixels}. OHIF
 * 3.12 takes a group without a top-level SCOORD through
 * `_processNonGeometricallyDefinedMeasurement` (getSopClassHandlerModule.ts), which draws the
 * SCOORD found in each NUM's ContentSequence and labels it "Length: <value> <unit>".
 */
function lengthGroup(
  length: JswLength,
  knee: GradedKnee,
  image: SourceImage,
  input: MeasurementReportInput,
): Dataset {
  const laterality = knee.laterality ?? image.imageLaterality;
  const { femurPoint, tibiaPoint } = length;
  const line = {
    RelationshipType: 'INFERRED FROM',
    ValueType: 'SCOORD',
    GraphicType: 'POLYLINE',
    GraphicData: [femurPoint.x + 0.5, femurPoint.y + 0.5, tibiaPoint.x + 0.5, tibiaPoint.y + 0.5],
    ContentSequence: [imageItem('SELECTED FROM', image, [])],
  };
  const unit = length.unit === 'mm' ? MILLIMETRE_UNIT : PIXEL_UNIT;
  // The SCOORD must be the NUM's only child: OHIF reads a lone item's fields through the
  // sequence (`ContentSequence.ValueType`) and draws nothing when there are more. The device
  // is named once for the whole document (observer context) instead.
  const measured = num(LENGTH, length.value, unit, [line]);
  return container('CONTAINS', MEASUREMENT_GROUP, [
    // The tracking key carries the compartment, so each line keeps its own stable UID.
    ...groupOpening(input, image, laterality, {
      key: `${laterality ?? 'U'} JSW ${length.compartment}`,
      identifier: LENGTH_TRACKING_IDENTIFIER,
      finding: JSW_MINIMUM[length.compartment],
    }),
    // OHIF labels the line with this text; it shows neither the Finding nor the NUM's name.
    text('CONTAINS', COMMENT, lengthComment(length, laterality)),
    measured,
  ]);
}

/**
 * One knee as TID 1410 Planar ROI Measurements and Qualitative Evaluations (the TID 1501 group
 * with an image region): tracking identifiers (TID 4108), finding and finding site, the graded
 * region as SCOORD, the grade as CODE, TEXT and NUM, the confidence and the probabilities as
 * TID 300 measurements with TID 4019 Algorithm Identification, and the knee check.
 *
 * The grade is repeated as a NUM, and the NUMs are ordered grade, confidence, probabilities,
 * because of how OHIF 3.12 labels the region it draws (extensions/cornerstone-dicom-sr:
 * `_processTID1410Measurement` in getSopClassHandlerModule.ts turns only NUM items, in content
 * order, into label lines "<concept meaning>: <value to 2 decimals> <unit code>", followed by a
 * SNOMED Finding Site; `_getTextBoxLinesFromLabels` in tools/DICOMSRDisplayTool.ts draws the
 * first five). Without the NUM the label lists five probabilities and never the grade. The
 * region itself needs nothing special: OHIF draws any SCOORD POLYLINE on the image its SELECTED
 * FROM item references, and offers to track a closed 5-point (111030, DCM) POLYLINE as its
 * RectangleROI tool (checked with test/e2e/ohif-sr.test.ts).
 */
function measurementGroup(
  knee: GradedKnee,
  image: SourceImage,
  imageIndex: number,
  input: MeasurementReportInput,
): Dataset {
  const laterality = knee.laterality ?? image.imageLaterality;
  const { grading } = knee;
  return container('CONTAINS', MEASUREMENT_GROUP, [
    ...groupOpening(input, image, laterality, {
      key: laterality ?? 'U',
      identifier: trackingIdentifier(knee, laterality, imageIndex),
      finding: OSTEOARTHRITIS_OF_KNEE,
    }),
    imageRegion(knee.region ?? wholeImage(image), image),
    code('CONTAINS', KL_GRADE, klGradeCode(grading.klGrade), algorithmId(input.algorithm)),
    text('CONTAINS', KL_GRADE, klGradeText(grading.klGrade)),
    num(KL_GRADE, grading.klGrade, GRADE_UNIT, algorithmId(input.algorithm)),
    num(KL_GRADE_CONFIDENCE, grading.confidence, PROBABILITY_UNIT, algorithmId(input.algorithm)),
    ...grading.probabilities.map((p, grade) =>
      num(klGradeProbability(grade), p, PROBABILITY_UNIT, algorithmId(input.algorithm)),
    ),
    text('CONTAINS', KNEE_CHECK_OUTCOME, kneeCheckText(grading)),
    ...(knee.comparison === undefined ? [] : comparisonContentItems(knee.comparison)),
  ]);
}

/**
 * What every measurement group opens with: its Tracking Identifier and a Tracking Unique
 * Identifier derived from the study, the image, `key` and the model (TID 4108), the finding,
 * and the finding site with the knee's side.
 */
function groupOpening(
  input: MeasurementReportInput,
  image: SourceImage,
  laterality: 'R' | 'L' | undefined,
  group: { key: string; identifier: string; finding: CodedConcept },
): Dataset[] {
  const tracking = trackingUid(
    input.header.StudyInstanceUID,
    image.sopInstanceUid,
    group.key,
    modelId(input.algorithm),
  );
  return [
    text('HAS OBS CONTEXT', TRACKING_IDENTIFIER, group.identifier),
    uidref('HAS OBS CONTEXT', TRACKING_UNIQUE_IDENTIFIER, tracking),
    code('CONTAINS', FINDING, group.finding),
    findingSite(laterality),
  ];
}

function trackingIdentifier(knee: GradedKnee, laterality: string | undefined, index: number) {
  if (knee.trackingIdentifier !== undefined) return knee.trackingIdentifier;
  const which = laterality === 'R' ? 'right knee' : laterality === 'L' ? 'left knee' : 'knee';
  return `KL grade, ${which}, image ${index + 1}`;
}

function findingSite(laterality: 'R' | 'L' | undefined): Dataset {
  const modifiers =
    laterality === undefined ? [] : [code('HAS CONCEPT MOD', LATERALITY, side(laterality))];
  return code('HAS CONCEPT MOD', FINDING_SITE, KNEE_JOINT, modifiers);
}

function wholeImage(image: SourceImage): ImageRegion {
  return { x: 0, y: 0, width: image.columns, height: image.rows };
}

/**
 * The graded region as a closed POLYLINE (first point repeated) in image coordinates, where
 * (0, 0) is the top left corner of the top left pixel (PS3.3 C.18.6.1.1), selected from the
 * source image.
 */
function imageRegion(region: ImageRegion, image: SourceImage): Dataset {
  const { x, y, width, height } = region;
  const corners = [x, y, x + width, y, x + width, y + height, x, y + height, x, y];
  return {
    ...contentItem('CONTAINS', 'SCOORD', IMAGE_REGION),
    GraphicType: 'POLYLINE',
    GraphicData: corners,
    ContentSequence: [imageItem('SELECTED FROM', image, [])],
  };
}

/** TID 4019 Algorithm Identification, as concept modifiers of the value it produced. */
function algorithmId(algorithm: AlgorithmIdentity): Dataset[] {
  return [
    text('HAS CONCEPT MOD', ALGORITHM_NAME, algorithm.name),
    text('HAS CONCEPT MOD', ALGORITHM_VERSION, algorithm.version),
  ];
}

function kneeCheckText(grading: KneeGrading): string {
  const verdict = grading.kneeCheck.accepted ? 'accepted' : 'refused (graded on request)';
  return `${verdict}: ${grading.kneeCheck.reason}`;
}

/** Attributes every content item has (PS3.3 C.17.3.2, Table C.17-6). */
function contentItem(relationship: Relationship, valueType: string, name: CodedConcept): Dataset {
  return {
    RelationshipType: relationship,
    ValueType: valueType,
    ConceptNameCodeSequence: [codeItem(name)],
  };
}

function withChildren(item: Dataset, children: Dataset[]): Dataset {
  return children.length === 0 ? item : { ...item, ContentSequence: children };
}

function container(relationship: Relationship, name: CodedConcept, children: Dataset[]) {
  return {
    ...contentItem(relationship, 'CONTAINER', name),
    ContinuityOfContent: 'SEPARATE',
    ContentSequence: children,
  };
}

function code(
  relationship: Relationship,
  name: CodedConcept,
  value: CodedConcept,
  children: Dataset[] = [],
): Dataset {
  const item = {
    ...contentItem(relationship, 'CODE', name),
    ConceptCodeSequence: [codeItem(value)],
  };
  return withChildren(item, children);
}

function text(relationship: Relationship, name: CodedConcept, value: string): Dataset {
  return { ...contentItem(relationship, 'TEXT', name), TextValue: value };
}

function uidref(relationship: Relationship, name: CodedConcept, uid: string): Dataset {
  return { ...contentItem(relationship, 'UIDREF', name), UID: uid };
}

/** A NUM (PS3.3 Table C.18.1-1, Numeric Measurement Macro). */
function num(name: CodedConcept, value: number, unit: CodedConcept, children: Dataset[]): Dataset {
  const measured = {
    NumericValue: decimalString(value),
    MeasurementUnitsCodeSequence: [codeItem(unit)],
  };
  const item = { ...contentItem('CONTAINS', 'NUM', name), MeasuredValueSequence: [measured] };
  return withChildren(item, children);
}

/** An IMAGE reference (PS3.3 Table C.18.4-1); no concept name, as TID 1601 and SELECTED FROM allow. */
function imageItem(relationship: Relationship, image: SourceImage, children: Dataset[]): Dataset {
  const item = {
    RelationshipType: relationship,
    ValueType: 'IMAGE',
    ReferencedSOPSequence: [sopReference(image)],
  };
  return withChildren(item, children);
}
