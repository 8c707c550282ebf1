/**
 * The few calls of Orthanc's own REST API (not DICOMweb) that intake needs: `/system` for
 * readiness, `/changes` for the change feed and `/studies/{id}` for a study's UID.
 *
 * | outcome | code | permanent |
 * |---------|------|-----------|
 * | connection refused or reset, DNS failure, timeout | pacs-unavailable | no |
 * | HTTP 5xx, 408, 429 | pacs-unavailable | no |
 * | any other HTTP 4xx (401 wrong credentials, ...); 404 only where stated | pacs-rejected | yes |
 * | an answer that is not the JSON Orthanc documents | pacs-invalid-response | yes |
 *
 * Messages name the call, the status and the offending field, never a URL or a value read
 * from a study (Orthanc ids and change numbers are not patient data; UIDs are kept out).
 */
import { networkCode, serviceRoot } from '../dicomweb/transport.js';
import { JointspaceError } from '../errors.js';
import type { Logger } from '../log.js';

export interface OrthancRestClientOptions {
  /** Root of Orthanc's REST API, e.g. `http://127.0.0.1:8042/`. */
  url: string;
  /** HTTP Basic credentials (Orthanc's `RegisteredUsers`); give both or neither. */
  username?: string;
  password?: string;
  /** Limit for each call, answer included (default 10 s). */
  timeoutMs?: number;
  /** Receives one debug line per call: operation, status, duration. */
  logger?: Logger;
}

/** What `/system` tells about the server. */
export interface OrthancSystem {
  name: string;
  version: string;
  apiVersion: number;
}

/** One entry of Orthanc's change log. */
export interface Change {
  /** Position in the log; grows by one per change. */
  seq: number;
  /** `NewInstance`, `StableStudy`, `Deleted`, ... */
  changeType: string;
  /** Orthanc's id of the resource. */
  id: string;
  /** `Patient`, `Study`, `Series` or `Instance`. */
  resourceType: string;
  /** When Orthanc logged it, in Orthanc's form `YYYYMMDDTHHMMSS` (local time). */
  date: string;
}

export interface ChangesPage {
  /** In increasing `seq`. */
  changes: Change[];
  /** True when no change follows the last of this page. */
  done: boolean;
  /** The seq of the page's last change; for an empty page, the last seq Orthanc holds. */
  last: number;
}

/** The change types intake acts on. */
export const STABLE_STUDY = 'StableStudy';

const DEFAULT_TIMEOUT_MS = 10_000;
/** Orthanc's resource ids: a SHA-1 written as five groups of eight hex digits. */
const ORTHANC_ID = /^[0-9a-f]{8}(-[0-9a-f]{8}){4}$/;

type Operation = 'system' | 'changes' | 'lastChange' | 'study';

type JsonObject = Record<string, unknown>;

export class OrthancRestClient {
  private readonly baseUrl: URL;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;
  private readonly logger: Logger | undefined;

  constructor(options: OrthancRestClientOptions) {
    this.baseUrl = serviceRoot(options.url);
    if ((options.username === undefined) !== (options.password === undefined)) {
      throw invalidArgument('username and password must be given together');
    }
    if (options.username !== undefined && options.password !== undefined) {
      const token = Buffer.from(`${options.username}:${options.password}`, 'utf8');
      this.authorization = `Basic ${token.toString('base64')}`;
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isSafeInteger(this.timeoutMs) || this.timeoutMs <= 0) {
      throw invalidArgument('timeoutMs must be a positive whole number of milliseconds');
    }
    this.logger = options.logger;
  }

  /** `GET /system`: answers when Orthanc is up and the credentials are accepted. */
  async system(): Promise<OrthancSystem> {
    const answer = object('system', await this.get('system', 'system'), 'the answer');
    return {
      name: text('system', answer, 'Name'),
      version: text('system', answer, 'Version'),
      apiVersion: count('system', answer, 'ApiVersion'),
    };
  }

  /** `GET /changes?since=&limit=`: up to `limit` changes after seq `since`, oldest first. */
  async changes(since: number, limit: number): Promise<ChangesPage> {
    if (!Number.isSafeInteger(since) || since < 0) {
      throw invalidArgument('since must be a whole number ≥ 0');
    }
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw invalidArgument('limit must be a whole number ≥ 1');
    }
    const query = `since=${since}&limit=${limit}`;
    return changesPage('changes', await this.get('changes', 'changes', query));
  }

  /** `GET /changes?last`: the seq of the newest change, 0 when the log is empty. */
  async lastChange(): Promise<number> {
    return changesPage('lastChange', await this.get('lastChange', 'changes', 'last')).last;
  }

  /**
   * `GET /studies/{id}`: the study's StudyInstanceUID (from `MainDicomTags`), or undefined
   * when Orthanc no longer holds the study (404).
   */
  async studyInstanceUid(orthancStudyId: string): Promise<string | undefined> {
    if (!ORTHANC_ID.test(orthancStudyId)) {
      throw invalidArgument('orthancStudyId must be an Orthanc id (5 groups of 8 hex digits)');
    }
    const answer = await this.get('study', `studies/${orthancStudyId}`, undefined, [404]);
    if (answer === undefined) return undefined;

    const study = object('study', answer, 'the answer');
    const tags = object('study', study.MainDicomTags, 'MainDicomTags');
    return text('study', tags, 'StudyInstanceUID', 'MainDicomTags.StudyInstanceUID');
  }

  /** The parsed JSON answer of a GET; undefined for a status listed in `absent`. */
  private async get(
    operation: Operation,
    path: string,
    query?: string,
    absent: readonly number[] = [],
  ): Promise<unknown> {
    const url = new URL(path, this.baseUrl);
    if (query !== undefined) url.search = `?${query}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.authorization !== undefined) headers.authorization = this.authorization;

    const started = performance.now();
    let status: number;
    let body: string;
    try {
      const response = await fetch(url, {
        headers,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = response.status;
      body = await response.text();
    } catch (error) {
      throw unreachable(operation, error, this.timeoutMs);
    }
    this.logger?.debug('orthanc.response', {
      operation,
      status,
      ms: Math.round(performance.now() - started),
    });

    if (absent.includes(status)) return undefined;
    throwOnFailure(operation, status);
    try {
      return JSON.parse(body) as unknown;
    } catch (error) {
      throw invalidResponse(operation, 'the answer is not JSON', error);
    }
  }
}

/** Orthanc's `{ Changes: [...], Done, Last }`. */
function changesPage(operation: Operation, answer: unknown): ChangesPage {
  const page = object(operation, answer, 'the answer');
  if (!Array.isArray(page.Changes)) throw invalidResponse(operation, 'Changes is not an array');
  if (typeof page.Done !== 'boolean') throw invalidResponse(operation, 'Done is not a boolean');

  const changes = page.Changes.map((entry: unknown, index) => {
    const where = `Changes[${index}]`;
    const change = object(operation, entry, where);
    return {
      seq: count(operation, change, 'Seq', `${where}.Seq`),
      changeType: text(operation, change, 'ChangeType', `${where}.ChangeType`),
      id: text(operation, change, 'ID', `${where}.ID`),
      resourceType: text(operation, change, 'ResourceType', `${where}.ResourceType`),
      date: text(operation, change, 'Date', `${where}.Date`),
    };
  });
  return { changes, done: page.Done, last: count(operation, page, 'Last') };
}

function object(operation: Operation, value: unknown, where: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidResponse(operation, `${where} is not a JSON object`);
  }
  return value as JsonObject;
}

function text(operation: Operation, from: JsonObject, key: string, where = key): string {
  const value = from[key];
  if (typeof value !== 'string' || value === '') {
    throw invalidResponse(operation, `${where} is missing or not a non-empty string`);
  }
  return value;
}

function count(operation: Operation, from: JsonObject, key: string, where = key): number {
  const value = from[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidResponse(operation, `${where} is missing or not a whole number ≥ 0`);
  }
  return value;
}

function unreachable(operation: Operation, error: unknown, timeoutMs: number): JointspaceError {
  const timedOut = error instanceof Error && error.name === 'TimeoutError';
  const reason = timedOut
    ? `Orthanc did not answer within ${timeoutMs} ms`
    : `cannot reach Orthanc (${networkCode(error)})`;
  return new JointspaceError('pacs-unavailable', `Orthanc REST ${operation}: ${reason}`, {
    cause: error,
    status: timedOut ? 504 : 503,
    permanent: false,
  });
}

function throwOnFailure(operation: Operation, status: number): void {
  if (status >= 200 && status < 300) return;

  if (status >= 500 || status === 408 || status === 429) {
    throw new JointspaceError(
      'pacs-unavailable',
      `Orthanc REST ${operation}: Orthanc answered HTTP ${status}`,
      { status: 503, permanent: false },
    );
  }
  const hint = status === 401 || status === 403 ? ' (check the Orthanc credentials)' : '';
  throw new JointspaceError(
    'pacs-rejected',
    `Orthanc REST ${operation}: Orthanc refused the request with HTTP ${status}${hint}`,
    { status: 502, permanent: true },
  );
}

function invalidResponse(operation: Operation, what: string, cause?: unknown): JointspaceError {
  return new JointspaceError('pacs-invalid-response', `Orthanc REST ${operation}: ${what}`, {
    cause,
    status: 502,
    permanent: true,
  });
}

function invalidArgument(message: string, cause?: unknown): JointspaceError {
  return new JointspaceError('invalid-argument', `Orthanc REST client: ${message}`, {
    cause,
    status: 400,
  });
}
