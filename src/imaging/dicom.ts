/**
 * DICOM to display image: locate and scan the data set, parse its attributes, decode the first
 * frame, apply the Modality LUT and VOI stages, and fix the display polarity.
 *
 * Pipeline, with the standard's sections:
 * 1. File Meta Information or bare data set (PS3.10 7.1), transfer syntax (PS3.5 10).
 * 2. Bounded structural scan, locating Pixel Data (`dicom-scan.ts`, PS3.5 7, A.4).
 * 3. Attributes with dcmjs (`dicom-parse.ts`).
 * 4. Image Pixel Module checks (`pixel-module.ts`, PS3.3 C.7.6.3).
 * 5. First frame, native (PS3.5 8.1) or encapsulated (PS3.5 8.2) (`pixel-data.ts`).
 * 6. Modality LUT (PS3.3 C.11.1, `modality.ts`), VOI LUT (C.11.2, `voi.ts`).
 */
import { readMetadata } from './dicom-metadata.js';
import { locateDataset } from './dicom-file.js';
import { isSequenceTag, parseAttributes, sopClassName, type DicomDataset } from './dicom-parse.js';
import { scanDataset, type DatasetLayout, type ElementSyntax } from './dicom-scan.js';
import { Tag } from './dicom-tags.js';
import { imagingError } from './fail.js';
import { modalityValues, readModalityTransform, type ModalityTransform } from './modality.js';
import { decodeFirstFrame } from './pixel-data.js';
import { isMonochrome, readPixelModule, type PixelModule } from './pixel-module.js';
import {
  supportedTransferSyntaxes,
  transferSyntaxInfo,
  type TransferSyntaxInfo,
} from './transfer-syntax.js';
import type { DecodedImage, ImageMetadata } from './types.js';
import { defaultWindow, fullRangeWindow, readVoi, renderGray, type VoiTransform } from './voi.js';

/** The first frame in modality values, before VOI and polarity; exposed for tests and tools. */
export interface ModalityImage {
  width: number;
  height: number;
  /** Modality values (after Modality LUT or rescale), or luminance for colour images, row-major. */
  values: Float32Array;
  module: PixelModule;
  modalityTransform: ModalityTransform;
  /** The VOI the header asks for, if any. */
  headerVoi: VoiTransform | undefined;
  metadata: ImageMetadata;
}

interface ParsedDicom {
  bytes: Uint8Array;
  layout: DatasetLayout;
  syntax: TransferSyntaxInfo & ElementSyntax;
  ds: DicomDataset;
}

const EXPLICIT_LE: ElementSyntax = { implicitVr: false, littleEndian: true };

function parseDicom(bytes: Uint8Array, label: string | undefined): ParsedDicom {
  const file = locateDataset(bytes, label);
  const info = transferSyntaxInfo(file.transferSyntaxUid);
  if (info === undefined) {
    throw imagingError(
      'unsupported-transfer-syntax',
      label,
      `Transfer Syntax UID (0002,0010) ${file.transferSyntaxUid} is not supported; supported: ${supportedTransferSyntaxes().join(', ')}`,
    );
  }
  // A deflated data set has been inflated already and is explicit VR little endian (PS3.5 A.5).
  const syntax = info.deflated ? { ...info, ...EXPLICIT_LE } : info;
  const layout = scanDataset(file.datasetBytes, file.datasetOffset, syntax, {
    label,
    isSequenceTag,
  });
  const parseInput = {
    bytes: file.datasetBytes,
    start: file.datasetOffset,
    end: layout.headerEnd,
    syntax,
    ...(layout.specificCharacterSet === undefined
      ? {}
      : { specificCharacterSet: layout.specificCharacterSet }),
  };
  const ds = parseAttributes(parseInput, label);
  return { bytes: file.datasetBytes, layout, syntax, ds };
}

function noPixelDataMessage(ds: DicomDataset): string {
  const sopClass = ds.string(Tag.SOPClassUID);
  if (sopClass === undefined || !/^[0-9.]{1,64}$/.test(sopClass)) {
    return 'no Pixel Data (7FE0,0010) and no SOP Class UID: not an image';
  }
  const name = sopClassName(sopClass);
  const described = name === undefined ? sopClass : `${sopClass} (${name})`;
  return name !== undefined && /Image/.test(name)
    ? `no Pixel Data (7FE0,0010), although SOP Class ${described} is an image storage class`
    : `no Pixel Data (7FE0,0010): SOP Class ${described} is not an image`;
}

/** Decodes the first frame of a DICOM file to modality values. */
export async function readDicomModality(bytes: Uint8Array, label?: string): Promise<ModalityImage> {
  const { bytes: datasetBytes, layout, syntax, ds } = parseDicom(bytes, label);
  if (layout.pixelData === undefined)
    throw imagingError('invalid-dicom', label, noPixelDataMessage(ds));
  const module = readPixelModule(ds, label);
  const modalityTransform = readModalityTransform(ds, module, label);
  const headerVoi = readVoi(ds, module, label);
  const frame = await decodeFirstFrame(datasetBytes, layout.pixelData, module, syntax, label);
  const values = modalityValues(frame, module, modalityTransform);
  const metadata = readMetadata(ds, syntax.uid, module.photometric, module.bitsStored);
  return {
    width: module.columns,
    height: module.rows,
    values,
    module,
    modalityTransform,
    headerVoi,
    metadata,
  };
}

/** Decodes a DICOM file to an 8-bit display image (bone bright) and its metadata. */
export async function decodeDicom(bytes: Uint8Array, label?: string): Promise<DecodedImage> {
  const modality = await readDicomModality(bytes, label);
  const { module } = modality;
  const voi = isMonochrome(module.photometric)
    ? (modality.headerVoi ?? defaultWindow(modality.values))
    : fullRangeWindow(module);
  const invert = module.photometric === 'MONOCHROME1';
  const image = renderGray(modality.values, modality.width, modality.height, voi, invert, label);
  return { image, metadata: modality.metadata };
}
