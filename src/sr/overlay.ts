/**
 * The graded image with its heat map, the graded region and the grade burned in, as a
 * Secondary Capture Image (PS3.3 A.8.1): the one form every viewer displays, OHIF included.
 *
 * Pure apart from the rendering in sharp: data in, Part 10 bytes out, nothing logged. The
 * text is drawn by librsvg with a generic font ("DejaVu Sans", falling back to sans-serif)
 * through fontconfig; without any font installed the marks would be missing, so the tests
 * check that the marks change the pixels.
 */
import sharp from 'sharp';
import type { ClassActivationMaps } from '../grading/model.js';
import { activationFor, blendHeatmap, upsample } from '../grading/heatmap.js';
import type { GrayImage } from '../imaging/types.js';
import { SECONDARY_CAPTURE_IMAGE_STORAGE } from './codes.js';
import {
  SPECIFIC_CHARACTER_SET,
  UNVERIFIED_NOTE,
  checkAlgorithm,
  checkGrading,
  checkRegion,
  checkSourceHeader,
  checkSourceImage,
  checkTimestamp,
  contributingEquipment,
  decimalString,
  dicomDate,
  dicomTime,
  generalEquipment,
  invalid,
  isPositiveInteger,
  modelId,
  patientAndStudy,
  timestamps,
  writePart10,
  type AlgorithmIdentity,
  type Dataset,
  type ImageRegion,
  type KneeGrading,
  type SourceHeader,
  type SourceImage,
} from './dataset.js';
import type { JswLength } from './measurement-report.js';
import { overlayUids } from './uids.js';

export interface OverlayInput {
  header: SourceHeader;
  /** The graded source image. */
  source: SourceImage;
  /** The picture as graded (8-bit, bone bright); the overlay has its size. */
  image: GrayImage;
  /**
   * For an image of both knees, the knee this overlay shows (`image` is then that knee's crop):
   * each knee gets an overlay of its own.
   */
  knee?: 'R' | 'L';
  grading: KneeGrading & { cam: ClassActivationMaps };
  /** The graded region in pixels of `image`; the whole image by default. */
  region?: ImageRegion;
  /**
   * Minimum joint-space widths to draw, points in pixel-index coordinates of `image` (the
   * centre of the top left pixel is (0, 0)), each with its value ("M 4.1 mm", "L 9 px").
   */
  jsw?: JswLength[];
  algorithm: AlgorithmIdentity;
  /** Content and instance creation time; explicit, so the same input gives the same bytes. */
  contentDateTime: Date;
  /** Series Number (0020,0011); 9002 by default, so the series sorts after the source's. */
  seriesNumber?: number;
  /** Instance Number (0020,0013); 1 by default. */
  instanceNumber?: number;
}

/** Burned into every overlay, and repeated in Image Comments. */
export const UNVERIFIED_MARK = 'AI RESULT - NOT VERIFIED';
export const OVERLAY_SERIES_DESCRIPTION = 'jointspace KL heat map (AI, unverified)';

const DEFAULT_SERIES_NUMBER = 9002;
const GRADES = 5;
const FONT_FAMILY = "'DejaVu Sans', sans-serif";
/** Width of one character of the bold caps mark, in em; generous, so the mark fits. */
const CHAR_WIDTH_EM = 0.72;
const MIN_FONT_PX = 8;
const REGION_COLOUR = '#00e000';
const GRADE_COLOUR = '#ffff00';
const MARK_COLOUR = '#ff3030';
const JSW_COLOUR = { medial: '#ff40ff', lateral: '#00e0ff' } as const;

/**
 * Builds the overlay: General Series, SC Equipment (C.8.6.1), General Image, Image Pixel and
 * SC Image (C.8.6.2) modules over the copied Patient and General Study modules.
 */
export async function buildOverlay(input: OverlayInput): Promise<Uint8Array> {
  checkInput(input);
  const rgb = await renderOverlay(input);
  const uids = overlayUids(
    input.header.StudyInstanceUID,
    input.source.sopInstanceUid,
    modelId(input.algorithm),
    input.knee,
  );
  const dataset: Dataset = {
    SOPClassUID: SECONDARY_CAPTURE_IMAGE_STORAGE,
    SOPInstanceUID: uids.sopInstanceUid,
    SpecificCharacterSet: SPECIFIC_CHARACTER_SET,
    ...timestamps(input.contentDateTime),
    ...patientAndStudy(input.header),
    ...generalSeries(uids.seriesInstanceUid, input.seriesNumber),
    ...generalEquipment(input.algorithm),
    ...scEquipment(input.algorithm),
    ...generalImage(input),
    ...imagePixel(input.image, rgb),
    ...scImage(input),
    ContributingEquipmentSequence: contributingEquipment(input.algorithm, input.contentDateTime),
  };
  return writePart10(dataset, SECONDARY_CAPTURE_IMAGE_STORAGE, uids.sopInstanceUid);
}

function checkInput(input: OverlayInput): void {
  checkSourceHeader(input.header);
  checkAlgorithm(input.algorithm);
  checkTimestamp(input.contentDateTime);
  checkSourceImage(input.source, 'source');
  checkGrading(input.grading, 'grading');
  const { width, height, pixels } = input.image;
  if (!isPositiveInteger(width) || !isPositiveInteger(height) || pixels.length !== width * height) {
    throw invalid('image must have positive integer width and height and width x height pixels');
  }
  const { cam } = input.grading;
  if (!isPositiveInteger(cam.width) || !isPositiveInteger(cam.height)) {
    throw invalid('grading.cam must have positive integer width and height');
  }
  if (cam.data.length !== GRADES * cam.width * cam.height) {
    throw invalid(`grading.cam must hold ${GRADES} maps of width x height`);
  }
  if (input.region !== undefined) checkRegion(input.region, width, height, 'region');
  (input.jsw ?? []).forEach((length, index) => {
    checkDrawnLength(length, width, height, `jsw[${index}]`);
  });
  for (const [value, name] of [
    [input.seriesNumber, 'seriesNumber'],
    [input.instanceNumber, 'instanceNumber'],
  ] as const) {
    if (value !== undefined && !isPositiveInteger(value)) {
      throw invalid(`${name} must be a positive integer`);
    }
  }
}

/** RGB bytes: the heat map of the reported grade blended in, then the marks drawn over it. */
async function renderOverlay(input: OverlayInput): Promise<Buffer> {
  const { image, grading } = input;
  const { cam } = grading;
  const activation = upsample(
    activationFor(cam, grading.klGrade),
    cam.width,
    cam.height,
    image.width,
    image.height,
  );
  const blended = blendHeatmap(image, activation);
  const region = input.region ?? { x: 0, y: 0, width: image.width, height: image.height };
  const svg = marksSvg(image.width, image.height, region, gradeLabel(grading), input.jsw ?? []);
  const { data, info } = await sharp(blended, {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || data.length !== image.width * image.height * 3) {
    throw invalid('internal: the rendered overlay is not width x height RGB');
  }
  return data;
}

/** "KL grade 2 (p=0.71)": the grade and the probability the model gave it. */
export function gradeLabel(grading: KneeGrading): string {
  return `KL grade ${grading.klGrade} (p=${grading.confidence.toFixed(2)})`;
}

/**
 * SVG of the marks: the region outline, a band at the top with the grade and a band at the
 * bottom with the unverified mark, sized so the longer text fits the width.
 */
function marksSvg(
  width: number,
  height: number,
  region: ImageRegion,
  label: string,
  lengths: JswLength[],
): string {
  const longest = Math.max(label.length, UNVERIFIED_MARK.length);
  const fontSize = Math.max(
    MIN_FONT_PX,
    Math.min(Math.floor((width * 0.94) / (longest * CHAR_WIDTH_EM)), Math.floor(height / 12)),
  );
  const band = Math.ceil(fontSize * 1.5);
  const stroke = Math.max(1, Math.round(Math.min(width, height) / 150));
  const inset = stroke / 2;
  const textAt = (y: number, colour: string, content: string) =>
    `<text x="${width / 2}" y="${y}" fill="${colour}" font-family="${FONT_FAMILY}" ` +
    `font-size="${fontSize}" font-weight="bold" text-anchor="middle">${escapeXml(content)}</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`,
    `<rect x="${region.x + inset}" y="${region.y + inset}" width="${region.width - stroke}" ` +
      `height="${region.height - stroke}" fill="none" stroke="${REGION_COLOUR}" ` +
      `stroke-width="${stroke}"/>`,
    `<rect x="0" y="0" width="${width}" height="${band}" fill="black" fill-opacity="0.6"/>`,
    textAt(Math.round(band * 0.72), GRADE_COLOUR, label),
    `<rect x="0" y="${height - band}" width="${width}" height="${band}" fill="black" fill-opacity="0.6"/>`,
    textAt(height - Math.round(band * 0.28), MARK_COLOUR, UNVERIFIED_MARK),
    ...lengths.map((length) => lengthSvg(length, fontSize, stroke, width)),
    '</svg>',
  ].join('');
}

/** "M 4.1 mm": compartment initial, value (one decimal), unit. */
export function lengthLabel(length: JswLength): string {
  const initial = length.compartment === 'medial' ? 'M' : 'L';
  return `${initial} ${length.value.toFixed(1)} ${length.unit}`;
}

/**
 * One width as a line between its end points, short ticks across both ends, and its value
 * beside it, on the side away from the image's nearer edge. Pixel-index points are shifted by
 * half a pixel to SVG coordinates (whose origin is the top left corner of the top left pixel).
 */
function lengthSvg(length: JswLength, fontSize: number, stroke: number, width: number): string {
  const colour = JSW_COLOUR[length.compartment];
  const a = { x: length.femurPoint.x + 0.5, y: length.femurPoint.y + 0.5 };
  const b = { x: length.tibiaPoint.x + 0.5, y: length.tibiaPoint.y + 0.5 };
  const tick = Math.max(2, stroke * 3);
  const line = (x1: number, y1: number, x2: number, y2: number) =>
    `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${colour}" stroke-width="${stroke}"/>`;
  const leftHalf = (a.x + b.x) / 2 < width / 2;
  const labelSize = Math.max(MIN_FONT_PX, Math.round(fontSize * 0.8));
  const textX = leftHalf ? Math.max(a.x, b.x) + tick + 2 : Math.min(a.x, b.x) - tick - 2;
  return [
    line(a.x, a.y, b.x, b.y),
    line(a.x - tick, a.y, a.x + tick, a.y),
    line(b.x - tick, b.y, b.x + tick, b.y),
    `<text x="${textX}" y="${Math.max(a.y, b.y) + labelSize}" fill="${colour}" ` +
      `font-family="${FONT_FAMILY}" font-size="${labelSize}" font-weight="bold" ` +
      // A dark outline keeps the value legible on bright bone.
      `stroke="black" stroke-width="${stroke}" paint-order="stroke" ` +
      `text-anchor="${leftHalf ? 'start' : 'end'}">${escapeXml(lengthLabel(length))}</text>`,
  ].join('');
}

function checkDrawnLength(length: JswLength, width: number, height: number, name: string): void {
  if (!(['medial', 'lateral'] as string[]).includes(length.compartment)) {
    throw invalid(`${name}.compartment must be "medial" or "lateral"`);
  }
  if (!(['mm', 'px'] as string[]).includes(length.unit)) {
    throw invalid(`${name}.unit must be "mm" or "px"`);
  }
  if (!Number.isFinite(length.value) || length.value < 0) {
    throw invalid(`${name}.value must be a finite number >= 0`);
  }
  for (const key of ['femurPoint', 'tibiaPoint'] as const) {
    const { x, y } = length[key];
    const inside = x >= -0.5 && y >= -0.5 && x <= width - 0.5 && y <= height - 0.5;
    if (!Number.isFinite(x) || !Number.isFinite(y) || !inside) {
      throw invalid(`${name}.${key} must lie on the image (pixel-index coordinates)`);
    }
  }
}

function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** General Series Module (PS3.3 C.7.3.1); OT, as the SC is not an acquisition. */
function generalSeries(seriesInstanceUid: string, seriesNumber?: number): Dataset {
  return {
    Modality: 'OT',
    SeriesInstanceUID: seriesInstanceUid,
    SeriesNumber: seriesNumber ?? DEFAULT_SERIES_NUMBER,
    SeriesDescription: OVERLAY_SERIES_DESCRIPTION,
  };
}

/** SC Equipment Module (PS3.3 C.8.6.1): a workstation (WSD) made the image. */
function scEquipment(algorithm: AlgorithmIdentity): Dataset {
  return {
    ConversionType: 'WSD',
    SecondaryCaptureDeviceManufacturer: 'jointspace',
    SecondaryCaptureDeviceManufacturerModelName: algorithm.name,
    SecondaryCaptureDeviceSoftwareVersions: algorithm.version,
  };
}

/** General Image Module (PS3.3 C.7.6.1): derived, annotations burned in, source referenced. */
function generalImage(input: OverlayInput): Dataset {
  const reference = {
    ReferencedSOPClassUID: input.source.sopClassUid,
    ReferencedSOPInstanceUID: input.source.sopInstanceUid,
  };
  const laterality = input.source.imageLaterality;
  return {
    InstanceNumber: input.instanceNumber ?? 1,
    PatientOrientation: '',
    ImageType: ['DERIVED', 'SECONDARY'],
    ...(laterality === undefined ? {} : { ImageLaterality: laterality }),
    DerivationDescription:
      'Class activation map of the reported KL grade blended over the graded image; ' +
      'graded region, grade and unverified mark burned in' +
      ((input.jsw ?? []).length > 0 ? '; minimum joint-space widths drawn with their values' : ''),
    ImageComments: `${gradeLabel(input.grading)}. ${UNVERIFIED_MARK} (${UNVERIFIED_NOTE}).`,
    BurnedInAnnotation: 'YES',
    LossyImageCompression: '00',
    SourceImageSequence: [reference],
    ReferencedImageSequence: [reference],
  };
}

/** Image Pixel Module (PS3.3 C.7.6.3): 8-bit RGB, colour-by-pixel. */
function imagePixel(image: GrayImage, rgb: Buffer): Dataset {
  const pixels = rgb.buffer.slice(rgb.byteOffset, rgb.byteOffset + rgb.byteLength);
  return {
    SamplesPerPixel: 3,
    PhotometricInterpretation: 'RGB',
    PlanarConfiguration: 0,
    Rows: image.height,
    Columns: image.width,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    PixelData: [pixels],
    _vrMap: { PixelData: 'OB' },
  };
}

/**
 * SC Image Module (PS3.3 C.8.6.2). Pixel Spacing is copied only when the overlay has the
 * source's geometry and the source's value is Pixel Spacing itself: Imager Pixel Spacing is
 * at the detector and would claim a calibration the overlay does not have.
 */
function scImage(input: OverlayInput): Dataset {
  const { source, image } = input;
  const spacing = source.pixelSpacing;
  const sameGeometry = image.width === source.columns && image.height === source.rows;
  return {
    DateOfSecondaryCapture: dicomDate(input.contentDateTime),
    TimeOfSecondaryCapture: dicomTime(input.contentDateTime),
    ...(sameGeometry && spacing?.source === 'PixelSpacing'
      ? { PixelSpacing: [decimalString(spacing.rowMm), decimalString(spacing.columnMm)] }
      : {}),
  };
}
