/**
 * The push side of intake: the Lua script Orthanc runs (`push.lua`) and the request it sends.
 * The script itself documents the Orthanc configuration it reads; see README.md.
 */
import { fromRoot } from '../paths.js';

/** Absolute path of the Lua script to list in Orthanc's `LuaScripts`. */
export const PUSH_SCRIPT_PATH = fromRoot('src', 'orthanc', 'push.lua');

/** Where the script posts, relative to jointspace's base URL (`Jointspace.Url`). */
export const STABLE_STUDY_ROUTE = '/api/orthanc/stable-study';

/** The JSON body the script posts, with `Authorization: Bearer <webhook secret>`. */
export interface StableStudyNotification {
  /** Orthanc's own id of the study, e.g. `e2cff36a-a1934e1a-cf17a78a-26ffc1d4-dc002946`. */
  orthancStudyId: string;
  studyInstanceUid: string;
}
