/**
 * Bounds on what we agree to parse and decode. They keep hostile or broken files from
 * exhausting memory, blowing the stack or hanging the process; real radiographs are far below
 * every one of them.
 */

/** Largest file `loadImageFile` reads into memory. */
export const MAX_FILE_BYTES = 1024 * 1024 * 1024;

/** Largest inflated data set of a Deflated Explicit VR Little Endian file (PS3.5 A.5). */
export const MAX_INFLATED_BYTES = 1024 * 1024 * 1024;

/** Largest Rows and Columns we decode. */
export const MAX_IMAGE_SIDE = 16384;

/** Largest size of one decoded frame, in bytes (Rows × Columns × samples × bytes per sample). */
export const MAX_DECODED_FRAME_BYTES = 512 * 1024 * 1024;

/** Deepest sequence nesting accepted; real data sets rarely exceed 6 levels. */
export const MAX_SEQUENCE_DEPTH = 32;

/** Most data elements (at all nesting levels) accepted in front of Pixel Data. */
export const MAX_ELEMENTS = 1_000_000;

/** Most items accepted in encapsulated Pixel Data (offset table plus fragments). */
export const MAX_FRAGMENTS = 100_000;
