/**
 * Reading the DICOM JSON Model (PS3.18 F.2) that QIDO-RS, WADO-RS metadata and STOW-RS
 * responses use: an object keyed by 8 hex digit tags, each holding `vr` and a `Value` array
 * (or BulkDataURI / InlineBinary, not read here).
 *
 * The readers never throw on odd server output: a missing, empty or mistyped value reads as
 * undefined (or an empty list), and the caller decides whether that attribute is required.
 */

/** One attribute of a DICOM JSON object (PS3.18 F.2.2). */
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
  BulkDataURI?: string;
  InlineBinary?: string;
}

/** A data set in the DICOM JSON Model: attributes keyed by tag, e.g. `"0020000D"`. */
export type DicomJsonDataset = Record<string, DicomJsonAttribute | undefined>;

/** Tags of the attributes the DICOMweb client and its callers read, by keyword. */
export const tags = {
  TransferSyntaxUID: '00020010',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  AccessionNumber: '00080050',
  Modality: '00080060',
  ModalitiesInStudy: '00080061',
  ReferencedSOPClassUID: '00081150',
  ReferencedSOPInstanceUID: '00081155',
  RetrieveURL: '00081190',
  WarningReason: '00081196',
  FailureReason: '00081197',
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  PatientName: '00100010',
  PatientID: '00100020',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfSeriesRelatedInstances: '00201209',
  Rows: '00280010',
  Columns: '00280011',
  BitsAllocated: '00280100',
} as const;

/** Whether `value` is a JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `Value` array of an attribute; empty when absent. `tag` is 8 hex digits, any case. */
export function values(dataset: DicomJsonDataset, tag: string): unknown[] {
  const attribute: unknown = dataset[tag.toUpperCase()];
  if (!isJsonObject(attribute) || !Array.isArray(attribute.Value)) return [];
  return attribute.Value as unknown[];
}

/**
 * The values of a string attribute. Person names (PS3.18 F.2.2) read as their Alphabetic
 * component group; numbers (IS and DS may be sent either way) as their decimal text.
 */
export function strings(dataset: DicomJsonDataset, tag: string): string[] {
  return values(dataset, tag).flatMap((value) => {
    if (typeof value === 'string') return [value];
    if (typeof value === 'number') return [String(value)];
    if (isJsonObject(value) && typeof value.Alphabetic === 'string') return [value.Alphabetic];
    return [];
  });
}

/** The first value of a string attribute (see `strings`). */
export function firstString(dataset: DicomJsonDataset, tag: string): string | undefined {
  return strings(dataset, tag)[0];
}

/** The first value of a numeric attribute (US, UL, IS, DS, ...), parsed when sent as text. */
export function firstNumber(dataset: DicomJsonDataset, tag: string): number | undefined {
  const value = values(dataset, tag)[0];
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
}

/** The items of a sequence attribute (SQ); empty when absent. */
export function sequenceItems(dataset: DicomJsonDataset, tag: string): DicomJsonDataset[] {
  return values(dataset, tag).filter(isJsonObject) as DicomJsonDataset[];
}
