/**
 * Transfer syntaxes this package understands, in one place (PS3.5 Section 10 and Annex A).
 *
 * A transfer syntax fixes three things: how the data set is encoded (implicit or explicit VR,
 * byte order, optional deflate), and whether Pixel Data is native (PS3.5 8.1) or encapsulated
 * in a compressed codestream (PS3.5 8.2, A.4).
 */

export const TransferSyntax = {
  ImplicitVrLittleEndian: '1.2.840.10008.1.2',
  ExplicitVrLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVrLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVrBigEndian: '1.2.840.10008.1.2.2',
  JpegBaseline: '1.2.840.10008.1.2.4.50',
  JpegExtended: '1.2.840.10008.1.2.4.51',
  JpegLossless: '1.2.840.10008.1.2.4.57',
  JpegLosslessSv1: '1.2.840.10008.1.2.4.70',
  JpegLsLossless: '1.2.840.10008.1.2.4.80',
  JpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  Jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  Jpeg2000: '1.2.840.10008.1.2.4.91',
  Htj2kLossless: '1.2.840.10008.1.2.4.201',
  Htj2kLosslessRpcl: '1.2.840.10008.1.2.4.202',
  Htj2k: '1.2.840.10008.1.2.4.203',
  RleLossless: '1.2.840.10008.1.2.5',
} as const;

/** How the pixel data of a transfer syntax is stored: native, or which codec decodes it. */
export type PixelEncoding =
  'native' | 'jpeg-baseline' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg2000' | 'htj2k' | 'rle';

export interface TransferSyntaxInfo {
  uid: string;
  name: string;
  /** Data set encoding (PS3.5 7.1): implicit VR only for the default transfer syntax. */
  implicitVr: boolean;
  littleEndian: boolean;
  /** The data set after the File Meta Information is deflate-compressed (PS3.5 A.5). */
  deflated: boolean;
  pixels: PixelEncoding;
}

const explicitLe = { implicitVr: false, littleEndian: true, deflated: false } as const;

const known: readonly TransferSyntaxInfo[] = [
  {
    uid: TransferSyntax.ImplicitVrLittleEndian,
    name: 'Implicit VR Little Endian',
    implicitVr: true,
    littleEndian: true,
    deflated: false,
    pixels: 'native',
  },
  {
    uid: TransferSyntax.ExplicitVrLittleEndian,
    name: 'Explicit VR Little Endian',
    ...explicitLe,
    pixels: 'native',
  },
  {
    uid: TransferSyntax.DeflatedExplicitVrLittleEndian,
    name: 'Deflated Explicit VR Little Endian',
    ...explicitLe,
    deflated: true,
    pixels: 'native',
  },
  {
    uid: TransferSyntax.ExplicitVrBigEndian,
    name: 'Explicit VR Big Endian',
    implicitVr: false,
    littleEndian: false,
    deflated: false,
    pixels: 'native',
  },
  {
    uid: TransferSyntax.JpegBaseline,
    name: 'JPEG Baseline (Process 1)',
    ...explicitLe,
    pixels: 'jpeg-baseline',
  },
  {
    uid: TransferSyntax.JpegExtended,
    name: 'JPEG Extended (Process 2 & 4)',
    ...explicitLe,
    pixels: 'jpeg-baseline',
  },
  {
    uid: TransferSyntax.JpegLossless,
    name: 'JPEG Lossless (Process 14)',
    ...explicitLe,
    pixels: 'jpeg-lossless',
  },
  {
    uid: TransferSyntax.JpegLosslessSv1,
    name: 'JPEG Lossless SV1 (Process 14, Selection Value 1)',
    ...explicitLe,
    pixels: 'jpeg-lossless',
  },
  {
    uid: TransferSyntax.JpegLsLossless,
    name: 'JPEG-LS Lossless',
    ...explicitLe,
    pixels: 'jpeg-ls',
  },
  {
    uid: TransferSyntax.JpegLsNearLossless,
    name: 'JPEG-LS Near-Lossless',
    ...explicitLe,
    pixels: 'jpeg-ls',
  },
  {
    uid: TransferSyntax.Jpeg2000Lossless,
    name: 'JPEG 2000 Lossless',
    ...explicitLe,
    pixels: 'jpeg2000',
  },
  { uid: TransferSyntax.Jpeg2000, name: 'JPEG 2000', ...explicitLe, pixels: 'jpeg2000' },
  { uid: TransferSyntax.Htj2kLossless, name: 'HTJ2K Lossless', ...explicitLe, pixels: 'htj2k' },
  {
    uid: TransferSyntax.Htj2kLosslessRpcl,
    name: 'HTJ2K Lossless RPCL',
    ...explicitLe,
    pixels: 'htj2k',
  },
  { uid: TransferSyntax.Htj2k, name: 'HTJ2K', ...explicitLe, pixels: 'htj2k' },
  { uid: TransferSyntax.RleLossless, name: 'RLE Lossless', ...explicitLe, pixels: 'rle' },
];

const byUid = new Map(known.map((info) => [info.uid, info]));

/** What we know about a transfer syntax, or undefined when it is not supported. */
export function transferSyntaxInfo(uid: string): TransferSyntaxInfo | undefined {
  return byUid.get(uid);
}

/** The UIDs of every supported transfer syntax, for error messages. */
export function supportedTransferSyntaxes(): string[] {
  return known.map((info) => info.uid);
}
