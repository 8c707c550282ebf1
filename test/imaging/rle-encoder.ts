/**
 * A test-only RLE Lossless encoder (PS3.5 G.3.1, G.5) to round-trip the decoder against.
 */

const MAX_RUN = 128;

/** PackBits: replicate runs of 3 or more equal bytes, literal runs otherwise; padded to even. */
export function packBits(plane: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < plane.length) {
    let run = 1;
    while (i + run < plane.length && run < MAX_RUN && plane[i + run] === plane[i]) run++;
    if (run >= 3) {
      out.push(257 - run, plane[i] ?? 0); // header −(run − 1) as an unsigned byte
      i += run;
      continue;
    }
    const start = i;
    while (i < plane.length && i - start < MAX_RUN) {
      if (i + 2 < plane.length && plane[i] === plane[i + 1] && plane[i] === plane[i + 2]) break;
      i++;
    }
    out.push(i - start - 1, ...plane.subarray(start, i));
  }
  if (out.length % 2 === 1) out.push(0);
  return out;
}

/**
 * Encodes one frame of interleaved samples: one segment per sample and byte, most
 * significant byte first (G.2).
 */
export function encodeRle(
  samples: ArrayLike<number>,
  samplesPerPixel: number,
  bytesPerSample: number,
): Uint8Array {
  const pixels = samples.length / samplesPerPixel;
  const segments: number[][] = [];
  for (let sample = 0; sample < samplesPerPixel; sample++) {
    for (let byte = bytesPerSample - 1; byte >= 0; byte--) {
      const plane = new Uint8Array(pixels);
      for (let i = 0; i < pixels; i++) {
        plane[i] =
          Math.floor((samples[i * samplesPerPixel + sample] ?? 0) / 2 ** (8 * byte)) & 0xff;
      }
      segments.push(packBits(plane));
    }
  }
  const header = new DataView(new ArrayBuffer(64));
  header.setUint32(0, segments.length, true);
  let offset = 64;
  segments.forEach((segment, index) => {
    header.setUint32(4 * (index + 1), offset, true);
    offset += segment.length;
  });
  return Uint8Array.from([...new Uint8Array(header.buffer), ...segments.flat()]);
}
