/**
 * Fixtures for the intake tests: tiny DX instances, each in a study of its own, of the
 * obviously fake patient "Test^Intake", and waits on a real Orthanc's change log.
 */
import { randomUUID } from 'node:crypto';
import { OrthancRestClient, STABLE_STUDY } from '../../src/orthanc/rest.js';
import type { Orthanc } from '../helpers/orthanc.js';
import { imageElements, pixelData, words, writeDicom } from '../imaging/dicom-writer.js';

export interface TinyStudy {
  bytes: Uint8Array;
  studyInstanceUid: string;
}

/** A UID under the 2.25 (UUID-derived) root. */
export function uuidUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replaceAll('-', '')}`).toString()}`;
}

/** One 4 x 4 DX image in a new study; `manufacturer` sets Manufacturer (0008,0070). */
export function tinyStudy(options: { manufacturer?: string } = {}): TinyStudy {
  const studyInstanceUid = uuidUid();
  const extra = [
    { tag: 0x00080018, vr: 'UI', value: uuidUid() }, // SOP Instance UID
    { tag: 0x00100010, vr: 'PN', value: 'Test^Intake' }, // Patient's Name
    { tag: 0x00100020, vr: 'LO', value: 'TEST-INTAKE-1' }, // Patient ID
    { tag: 0x0020000d, vr: 'UI', value: studyInstanceUid }, // Study Instance UID
    { tag: 0x0020000e, vr: 'UI', value: uuidUid() }, // Series Instance UID
  ];
  if (options.manufacturer !== undefined) {
    extra.push({ tag: 0x00080070, vr: 'LO', value: options.manufacturer }); // Manufacturer
  }
  const elements = imageElements({ rows: 4, columns: 4, bitsStored: 12, extra });
  const pixels = words(Array.from({ length: 16 }, (_, i) => i * 256));
  return { bytes: writeDicom([...elements, pixelData(pixels)]), studyInstanceUid };
}

/** Orthanc's id of the study an uploaded instance belongs to. */
export async function parentStudy(orthanc: Orthanc, instanceId: string): Promise<string> {
  const response = await fetch(new URL(`instances/${instanceId}/study`, orthanc.url));
  const study = (await response.json()) as { ID?: unknown };
  if (!response.ok || typeof study.ID !== 'string') {
    throw new Error(`no parent study for instance ${instanceId}: HTTP ${response.status}`);
  }
  return study.ID;
}

/** Uploads `study` and resolves with Orthanc's id of it. */
export async function upload(orthanc: Orthanc, study: TinyStudy): Promise<string> {
  const instance = await orthanc.uploadInstance(study.bytes);
  return parentStudy(orthanc, instance.id);
}

/** Resolves once Orthanc's change log holds a StableStudy change for each of `studyIds`. */
export async function waitUntilStable(
  orthanc: Orthanc,
  studyIds: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  const client = new OrthancRestClient({ url: orthanc.url });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stable = new Set<string>();
    for (let since = 0, done = false; !done;) {
      const page = await client.changes(since, 1000);
      for (const change of page.changes) {
        if (change.changeType === STABLE_STUDY) stable.add(change.id);
      }
      since = page.last;
      done = page.done || page.changes.length === 0;
    }
    if (studyIds.every((id) => stable.has(id))) return;
    if (Date.now() > deadline) throw new Error(`studies not stable within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
