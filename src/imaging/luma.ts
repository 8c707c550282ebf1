/**
 * Luma from R'G'B' with the Rec. 601 weights, the weights of the DICOM YBR_FULL definition
 * (PS3.3 C.7.6.3.1.2). Used for every colour input, DICOM or not, so that one picture gives
 * the same gray levels whatever its container.
 */
const WEIGHT = { red: 0.299, green: 0.587, blue: 0.114 } as const;

export function luma(red: number, green: number, blue: number): number {
  return WEIGHT.red * red + WEIGHT.green * green + WEIGHT.blue * blue;
}
