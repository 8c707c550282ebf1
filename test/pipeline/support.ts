/**
 * What the pipeline tests share: waiting for a study's result through the API, and reading
 * back from Orthanc what jointspace wrote into a study.
 */
import { DicomWebClient } from '../../src/dicomweb/client.js';
import { firstString, tags } from '../../src/dicomweb/json.js';
import type { Orthanc } from '../helpers/orthanc.js';
import type { ServiceProcess } from '../helpers/service.js';
import type { TestStudy } from './studies.js';

export interface StudyBody {
  studyInstanceUid: string;
  status: string;
  knees: { laterality: string; klGrade: number; probabilities: number[]; confidence: number }[];
  refusals: { sopInstanceUid: string | null; reason: string }[];
}

const FINAL = new Set(['graded', 'refused', 'failed']);

/** Polls `GET /api/studies/{uid}` until the study reaches a final status. */
export async function waitForStudy(
  service: ServiceProcess,
  studyInstanceUid: string,
  timeoutMs = 180_000,
): Promise<StudyBody> {
  const deadline = Date.now() + timeoutMs;
  let last = 'never answered';
  while (Date.now() < deadline) {
    try {
      const response = await service.api(`/api/studies/${studyInstanceUid}`);
      if (response.status === 200) {
        const body = (await response.json()) as StudyBody;
        if (FINAL.has(body.status)) return body;
        last = `status ${body.status}`;
      } else {
        last = `HTTP ${response.status}`;
        await response.body?.cancel();
      }
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`study not final within ${timeoutMs} ms (last: ${last})`);
}

export async function upload(orthanc: Orthanc, study: TestStudy): Promise<void> {
  for (const instance of study.instances) await orthanc.uploadInstance(instance.bytes);
}

export interface WrittenObjects {
  /** SOP Instance UIDs of the SRs in the study. */
  reports: string[];
  /** SOP Instance UIDs of jointspace's Secondary Captures. */
  overlays: string[];
}

const COMPREHENSIVE_SR = '1.2.840.10008.5.1.4.1.1.88.33';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

/** The SRs and overlays stored in the study, as Orthanc's QIDO-RS lists them. */
export async function writtenObjects(orthanc: Orthanc, studyInstanceUid: string) {
  const client = new DicomWebClient({ url: orthanc.dicomWebUrl });
  const instances = await client.searchForInstances({
    studyInstanceUid,
    includeFields: [tags.SOPClassUID, '00080070'],
  });
  const ours = instances.filter((dataset) => firstString(dataset, '00080070') === 'jointspace');
  const uids = (sopClass: string) =>
    ours
      .filter((dataset) => firstString(dataset, tags.SOPClassUID) === sopClass)
      .map((dataset) => firstString(dataset, tags.SOPInstanceUID) ?? '');
  return { reports: uids(COMPREHENSIVE_SR), overlays: uids(SECONDARY_CAPTURE) };
}
