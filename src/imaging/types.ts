/** An 8-bit grayscale picture in display polarity (bone bright), row-major. */
export interface GrayImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

export interface PixelSpacing {
  /** Millimetres between row centres (first value of DICOM Pixel Spacing). */
  rowMm: number;
  /** Millimetres between column centres. */
  columnMm: number;
  source: 'PixelSpacing' | 'ImagerPixelSpacing';
}

/** What the header says about an image; every field is optional because headers often lie or are missing. */
export interface ImageMetadata {
  format: 'dicom' | 'png' | 'jpeg';
  modality?: string;
  sopClassUid?: string;
  bodyPartExamined?: string;
  imageLaterality?: string;
  viewPosition?: string;
  photometricInterpretation?: string;
  transferSyntaxUid?: string;
  bitsStored?: number;
  pixelSpacing?: PixelSpacing;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
}

export interface DecodedImage {
  image: GrayImage;
  metadata: ImageMetadata;
}
