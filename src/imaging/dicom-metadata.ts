/**
 * The non-identifying header fields that downstream steps need (see `ImageMetadata`). Patient
 * and physician names, IDs, dates and descriptions are never read.
 */
import type { DicomDataset } from './dicom-parse.js';
import { Tag, type TagKey } from './dicom-tags.js';
import { macroSources } from './modality.js';
import type { ImageMetadata, PixelSpacing } from './types.js';

/** Code String values (PS3.5 6.2): upper case, digits, space, underscore; at most 16 characters. */
const CODE_STRING = /^[A-Z0-9 _]{1,16}$/;
/** UIDs (PS3.5 9.1): digits and dots, at most 64 characters. */
const UID = /^[0-9.]{1,64}$/;

function codeString(ds: DicomDataset, tag: TagKey): string | undefined {
  const value = ds.string(tag)?.toUpperCase();
  return value !== undefined && CODE_STRING.test(value) ? value : undefined;
}

function uid(ds: DicomDataset, tag: TagKey): string | undefined {
  const value = ds.string(tag);
  return value !== undefined && UID.test(value) ? value : undefined;
}

/** Laterality: Image Laterality, else Laterality, else Frame Laterality of Frame Anatomy. */
function laterality(ds: DicomDataset): string | undefined {
  const direct = codeString(ds, Tag.ImageLaterality) ?? codeString(ds, Tag.Laterality);
  if (direct !== undefined) return direct;
  for (const source of macroSources(ds, Tag.FrameAnatomySequence)) {
    const frame = codeString(source, Tag.FrameLaterality);
    if (frame !== undefined) return frame;
  }
  return undefined;
}

/**
 * Pixel Spacing (0028,0030), else Imager Pixel Spacing (0018,1164), else Pixel Spacing in the
 * Pixel Measures functional group. Values must be positive millimetres.
 */
function pixelSpacing(ds: DicomDataset): PixelSpacing | undefined {
  return (
    spacingFrom(ds, Tag.PixelSpacing, 'PixelSpacing') ??
    spacingFrom(ds, Tag.ImagerPixelSpacing, 'ImagerPixelSpacing') ??
    macroSources(ds, Tag.PixelMeasuresSequence)
      .map((source) => spacingFrom(source, Tag.PixelSpacing, 'PixelSpacing'))
      .find((spacing) => spacing !== undefined)
  );
}

function spacingFrom(
  ds: DicomDataset,
  tag: TagKey,
  source: PixelSpacing['source'],
): PixelSpacing | undefined {
  const [rowMm, columnMm] = ds.numbers(tag);
  if (rowMm === undefined || columnMm === undefined || !(rowMm > 0) || !(columnMm > 0))
    return undefined;
  return { rowMm, columnMm, source };
}

export function readMetadata(
  ds: DicomDataset,
  transferSyntaxUid: string,
  photometric: string | undefined,
  bitsStored: number | undefined,
): ImageMetadata {
  return {
    format: 'dicom',
    transferSyntaxUid,
    modality: codeString(ds, Tag.Modality),
    sopClassUid: uid(ds, Tag.SOPClassUID),
    bodyPartExamined: codeString(ds, Tag.BodyPartExamined),
    imageLaterality: laterality(ds),
    viewPosition: codeString(ds, Tag.ViewPosition),
    photometricInterpretation: photometric,
    bitsStored,
    pixelSpacing: pixelSpacing(ds),
    studyInstanceUid: uid(ds, Tag.StudyInstanceUID),
    seriesInstanceUid: uid(ds, Tag.SeriesInstanceUID),
    sopInstanceUid: uid(ds, Tag.SOPInstanceUID),
  };
}
