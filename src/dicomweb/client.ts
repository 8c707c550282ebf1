/**
 * A DICOMweb user agent (PS3.18) on global `fetch`, with one method per transaction:
 * Search (QIDO-RS, 10.6), Retrieve (WADO-RS, 10.4) and Store (STOW-RS, 10.5).
 *
 * Failures are JointspaceErrors: `pacs-unavailable` (transient: retry later),
 * `pacs-rejected` (permanent: the server refused this request), `pacs-invalid-response`
 * (permanent: the answer is not what PS3.18 prescribes) and `invalid-argument` (bad input,
 * found before anything is sent). See `transport.ts` for the status mapping.
 */
import { JointspaceError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  firstNumber,
  firstString,
  isJsonObject,
  sequenceItems,
  tags,
  type DicomJsonDataset,
} from './json.js';
import {
  decodeMultipart,
  encodeMultipart,
  formatMediaType,
  newBoundary,
  parseMediaType,
  type BodyPart,
  type MediaType,
} from './multipart.js';
import {
  exchange,
  serviceRoot,
  invalidResponse,
  type Connection,
  type PacsRequest,
  type PacsResponse,
  type Transaction,
} from './transport.js';

export interface DicomWebClientOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:8042/dicom-web/`. */
  url: string;
  /** HTTP Basic credentials; give both or neither. */
  username?: string;
  password?: string;
  /** Limit for each transaction, answer included (default 30 s). */
  timeoutMs?: number;
  /** Receives one debug line per exchange: transaction, status, duration. */
  logger?: Logger;
}

/** The three UIDs that address one instance (PS3.18 10.4.1 Retrieve resources). */
export interface InstanceReference {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/** Query parameters of a Search transaction (PS3.18 8.3.4). */
export interface SearchQuery {
  /** Matching keys: attribute keyword or tag to value, e.g. `{ PatientID: 'X*' }`. */
  match?: Record<string, string>;
  /** Return keys: keywords or tags, each sent as its own `includefield`, or `['all']`. */
  includeFields?: readonly string[];
  fuzzyMatching?: boolean;
  limit?: number;
  offset?: number;
}

export interface SeriesSearch extends SearchQuery {
  /** Search the series of this study only (`studies/{uid}/series`). */
  studyInstanceUid?: string;
}

export interface InstanceSearch extends SeriesSearch {
  /** Search the instances of this series only; needs `studyInstanceUid`. */
  seriesInstanceUid?: string;
}

export interface RetrieveOptions {
  /**
   * Transfer Syntax UID to ask for, or `*` for the one the server stores (PS3.18 8.7.3.5).
   * For frames, `1.2.840.10008.1.2.1` asks the server to decode to native pixels.
   */
  transferSyntax?: string;
}

/** One frame of a Retrieve Frames answer. */
export interface RetrievedFrame {
  /** e.g. `application/octet-stream` for native pixels, `image/jls` for JPEG-LS. */
  mediaType: string;
  /** Transfer Syntax UID of the bytes, when the server names it. */
  transferSyntax: string | undefined;
  bytes: Uint8Array;
}

/** One instance in a Store answer (PS3.18 10.5.3.2, Table 10.5.3-2). */
export interface StoredInstance {
  sopClassUid: string | undefined;
  sopInstanceUid: string | undefined;
  retrieveUrl: string | undefined;
  /** Warning Reason (0008,1196), when the server stored the instance with a warning. */
  warningReason: number | undefined;
}

export interface FailedInstance {
  sopClassUid: string | undefined;
  sopInstanceUid: string | undefined;
  /** Failure Reason (0008,1197), e.g. 0xA700 out of resources, 0xC000 cannot understand. */
  failureReason: number | undefined;
}

export interface StoreResponse {
  /** HTTP status: 200 all stored, 202 some failed or stored with warnings, 409 none stored. */
  status: number;
  retrieveUrl: string | undefined;
  referenced: StoredInstance[];
  failed: FailedInstance[];
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DICOM_JSON = 'application/dicom+json';
const DICOM = 'application/dicom';
const OCTET_STREAM = 'application/octet-stream';
// PS3.5 9.1 UIDs are digits and dots, at most 64 characters. Leading zeros in a component
// are wrong but found in real archives (e.g. "999.999.01.23"), so they are let through.
const UID = /^[0-9]+(\.[0-9]+)*$/;
const ATTRIBUTE =
  /^([0-9A-Fa-f]{8}|[A-Za-z][A-Za-z0-9]*)(\.([0-9A-Fa-f]{8}|[A-Za-z][A-Za-z0-9]*))*$/;

export class DicomWebClient {
  private readonly connection: Connection;

  constructor(options: DicomWebClientOptions) {
    this.connection = connect(options);
  }

  /** Search for Studies (PS3.18 10.6, resource `studies`). */
  searchForStudies(query: SearchQuery = {}): Promise<DicomJsonDataset[]> {
    return this.search('searchForStudies', () => 'studies', query);
  }

  /** Search for Series (PS3.18 10.6): all series, or those of one study. */
  searchForSeries(query: SeriesSearch = {}): Promise<DicomJsonDataset[]> {
    return this.search('searchForSeries', () => seriesPath(query), query);
  }

  /** Search for Instances (PS3.18 10.6): all instances, or those of one study or series. */
  searchForInstances(query: InstanceSearch = {}): Promise<DicomJsonDataset[]> {
    return this.search('searchForInstances', () => instancesPath(query), query);
  }

  /**
   * Retrieve Instance (PS3.18 10.4, `studies/{study}/series/{series}/instances/{instance}`):
   * the Part 10 file. By default in the stored transfer syntax (`*`), byte for byte.
   */
  async retrieveInstance(
    reference: InstanceReference,
    options: RetrieveOptions = {},
  ): Promise<Uint8Array> {
    const transaction = 'retrieveInstance';
    const response = await this.send({
      transaction,
      path: instancePath(reference),
      accept: multipartAccept(DICOM, options.transferSyntax ?? '*'),
    });

    const mediaType = responseMediaType(transaction, response);
    if (mediaType.type === DICOM) return response.body;

    const parts = multipartParts(transaction, response, mediaType);
    const first = parts[0];
    if (parts.length !== 1 || first === undefined) {
      throw invalidResponse(transaction, `expected one part, got ${parts.length}`);
    }
    return first.body;
  }

  /**
   * Retrieve Frames (PS3.18 10.4, `.../instances/{instance}/frames/{list}`): the pixel data
   * of the frames numbered (from 1) in `frameNumbers`, in request order.
   */
  async retrieveFrames(
    reference: InstanceReference,
    frameNumbers: readonly number[],
    options: RetrieveOptions = {},
  ): Promise<RetrievedFrame[]> {
    const transaction = 'retrieveFrames';
    if (frameNumbers.length === 0 || !frameNumbers.every((n) => Number.isSafeInteger(n) && n > 0)) {
      throw invalidArgument('frameNumbers must list frame numbers from 1');
    }

    const response = await this.send({
      transaction,
      path: `${instancePath(reference)}/frames/${frameNumbers.join(',')}`,
      accept: multipartAccept(OCTET_STREAM, options.transferSyntax),
    });

    const mediaType = responseMediaType(transaction, response);
    const parts = multipartParts(transaction, response, mediaType);
    if (parts.length !== frameNumbers.length) {
      throw invalidResponse(
        transaction,
        `asked for ${frameNumbers.length} frames, got ${parts.length}`,
      );
    }
    return parts.map((part) => frameOf(part, mediaType));
  }

  /** Retrieve Instance Metadata (PS3.18 10.4, `.../instances/{instance}/metadata`). */
  async retrieveInstanceMetadata(reference: InstanceReference): Promise<DicomJsonDataset> {
    const transaction = 'retrieveInstanceMetadata';
    const response = await this.send({
      transaction,
      path: `${instancePath(reference)}/metadata`,
      accept: DICOM_JSON,
    });

    const datasets = datasetList(transaction, response);
    const first = datasets[0];
    if (datasets.length !== 1 || first === undefined) {
      throw invalidResponse(transaction, `expected one data set, got ${datasets.length}`);
    }
    return first;
  }

  /**
   * Store Instances (PS3.18 10.5): Part 10 files as `multipart/related;
   * type="application/dicom"`, into `studies` or, when `studyInstanceUid` is given,
   * `studies/{study}` (the server then refuses instances of other studies).
   *
   * Resolves with the stored and the failed instances of the answer (10.5.3.2), also for
   * 409 Conflict (none stored, e.g. all of another study): callers check `failed`. Other
   * failure statuses reject as usual.
   */
  async storeInstances(
    instances: readonly Uint8Array[],
    options: { studyInstanceUid?: string } = {},
  ): Promise<StoreResponse> {
    const transaction = 'storeInstances';
    if (instances.length === 0) throw invalidArgument('instances must hold at least one file');

    const parts: BodyPart[] = instances.map((body) => ({
      headers: { 'Content-Type': DICOM },
      body,
    }));
    const boundary = newBoundary(parts);
    const path =
      options.studyInstanceUid === undefined
        ? 'studies'
        : `studies/${uid(options.studyInstanceUid, 'studyInstanceUid')}`;

    const response = await this.send({
      transaction,
      path,
      method: 'POST',
      accept: DICOM_JSON,
      contentType: formatMediaType({
        type: 'multipart/related',
        parameters: { type: DICOM, boundary },
      }),
      body: encodeMultipart(parts, boundary),
      // 409: no instance stored; the answer still lists each failure and its reason.
      readable: [409],
    });

    return storeResponse(transaction, response);
  }

  /** `path` is called here, so that bad input rejects the promise rather than throwing. */
  private async search(
    transaction: Transaction,
    path: () => string,
    query: SearchQuery,
  ): Promise<DicomJsonDataset[]> {
    const response = await this.send({
      transaction,
      path: path(),
      query: searchParameters(query),
      accept: DICOM_JSON,
    });
    return datasetList(transaction, response);
  }

  private send(request: PacsRequest): Promise<PacsResponse> {
    return exchange(this.connection, request);
  }
}

function connect(options: DicomWebClientOptions): Connection {
  const baseUrl = serviceRoot(options.url);
  if ((options.username === undefined) !== (options.password === undefined)) {
    throw invalidArgument('username and password must be given together');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw invalidArgument('timeoutMs must be a positive whole number of milliseconds');
  }

  const connection: Connection = { baseUrl, timeoutMs };
  if (options.logger !== undefined) connection.logger = options.logger;
  if (options.username !== undefined && options.password !== undefined) {
    const token = Buffer.from(`${options.username}:${options.password}`, 'utf8');
    connection.authorization = `Basic ${token.toString('base64')}`;
  }
  return connection;
}

function invalidArgument(message: string, cause?: unknown): JointspaceError {
  return new JointspaceError('invalid-argument', message, { cause, status: 400 });
}

/** A UID checked before it goes into a path; the message names the parameter, not the value. */
function uid(value: string, name: string): string {
  if (value.length > 64 || !UID.test(value)) throw invalidArgument(`${name} must be a DICOM UID`);
  return value;
}

function instancePath(reference: InstanceReference): string {
  const study = uid(reference.studyInstanceUid, 'studyInstanceUid');
  const series = uid(reference.seriesInstanceUid, 'seriesInstanceUid');
  const instance = uid(reference.sopInstanceUid, 'sopInstanceUid');
  return `studies/${study}/series/${series}/instances/${instance}`;
}

function seriesPath(query: SeriesSearch): string {
  if (query.studyInstanceUid === undefined) return 'series';
  return `studies/${uid(query.studyInstanceUid, 'studyInstanceUid')}/series`;
}

function instancesPath(query: InstanceSearch): string {
  const study =
    query.studyInstanceUid === undefined
      ? undefined
      : uid(query.studyInstanceUid, 'studyInstanceUid');
  if (query.seriesInstanceUid === undefined) {
    return study === undefined ? 'instances' : `studies/${study}/instances`;
  }

  if (study === undefined) throw invalidArgument('seriesInstanceUid needs studyInstanceUid');
  return `studies/${study}/series/${uid(query.seriesInstanceUid, 'seriesInstanceUid')}/instances`;
}

/**
 * The query string of a Search (PS3.18 8.3.4): one `includefield` per attribute, since a
 * comma-separated list is not understood by every server (Orthanc ignores it).
 */
function searchParameters(query: SearchQuery): [string, string][] {
  const parameters: [string, string][] = [];
  for (const [attribute, value] of Object.entries(query.match ?? {})) {
    parameters.push([attributeName(attribute, 'match'), value]);
  }
  for (const field of query.includeFields ?? []) {
    parameters.push([
      'includefield',
      field === 'all' ? field : attributeName(field, 'includeFields'),
    ]);
  }
  if (query.fuzzyMatching !== undefined) {
    parameters.push(['fuzzymatching', String(query.fuzzyMatching)]);
  }
  if (query.limit !== undefined) parameters.push(['limit', String(count(query.limit, 'limit'))]);
  if (query.offset !== undefined)
    parameters.push(['offset', String(count(query.offset, 'offset'))]);
  return parameters;
}

function attributeName(name: string, parameter: string): string {
  if (!ATTRIBUTE.test(name)) {
    throw invalidArgument(`${parameter} must name attributes by keyword or 8 hex digit tag`);
  }
  return name;
}

function count(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`${name} must be a whole number of at least 0`);
  }
  return value;
}

/** `multipart/related; type="..."` with the transfer syntax parameter of PS3.18 8.7.3.5. */
function multipartAccept(type: string, transferSyntax: string | undefined): string {
  const parameters: Record<string, string> = { type };
  if (transferSyntax !== undefined) {
    if (transferSyntax !== '*') uid(transferSyntax, 'transferSyntax');
    parameters['transfer-syntax'] = transferSyntax;
  }
  return formatMediaType({ type: 'multipart/related', parameters });
}

function responseMediaType(transaction: Transaction, response: PacsResponse): MediaType {
  try {
    return parseMediaType(response.contentType ?? '');
  } catch (error) {
    throw invalidResponse(transaction, 'the answer has no valid Content-Type', error);
  }
}

function multipartParts(
  transaction: Transaction,
  response: PacsResponse,
  mediaType: MediaType,
): BodyPart[] {
  const boundary = mediaType.parameters.boundary;
  if (mediaType.type !== 'multipart/related' || boundary === undefined) {
    throw invalidResponse(transaction, `expected multipart/related, got ${mediaType.type}`);
  }
  try {
    return decodeMultipart(response.body, boundary);
  } catch (error) {
    throw invalidResponse(transaction, 'the multipart answer cannot be read', error);
  }
}

/**
 * The media type and transfer syntax of a frame: from the part's Content-Type, else from the
 * answer's `type` and `transfer-syntax` parameters. Orthanc puts the transfer syntax inside
 * the quoted `type` value, so that value is parsed as a media type too.
 */
function frameOf(part: BodyPart, answer: MediaType): RetrievedFrame {
  const own = optionalMediaType(part.headers['content-type']);
  const declared = optionalMediaType(answer.parameters.type);
  const mediaType = own?.type ?? declared?.type ?? OCTET_STREAM;
  const transferSyntax =
    own?.parameters['transfer-syntax'] ??
    declared?.parameters['transfer-syntax'] ??
    answer.parameters['transfer-syntax'];
  return { mediaType, transferSyntax, bytes: part.body };
}

function optionalMediaType(value: string | undefined): MediaType | undefined {
  if (value === undefined) return undefined;
  try {
    return parseMediaType(value);
  } catch {
    return undefined;
  }
}

function parseJson(transaction: Transaction, response: PacsResponse): unknown {
  if (response.status === 204 || response.body.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(response.body).toString('utf8')) as unknown;
  } catch (error) {
    throw invalidResponse(transaction, 'the answer is not JSON', error);
  }
}

/** A JSON array of data sets; 204 No Content (no match) reads as an empty list. */
function datasetList(transaction: Transaction, response: PacsResponse): DicomJsonDataset[] {
  const json = parseJson(transaction, response);
  if (json === undefined) return [];
  if (!Array.isArray(json) || !json.every(isJsonObject)) {
    throw invalidResponse(transaction, 'expected a JSON array of DICOM JSON objects');
  }
  return json as DicomJsonDataset[];
}

/**
 * The Store Instances Response Module (PS3.18 10.5.3.2). A 409 without one is an ordinary
 * refusal.
 */
function storeResponse(transaction: Transaction, response: PacsResponse): StoreResponse {
  try {
    return readStoreResponse(transaction, response);
  } catch (error) {
    if (response.status !== 409) throw error;
    throw new JointspaceError(
      'pacs-rejected',
      `DICOMweb ${transaction}: the PACS refused the request with HTTP 409`,
      { cause: error, status: 502, permanent: true },
    );
  }
}

function readStoreResponse(transaction: Transaction, response: PacsResponse): StoreResponse {
  const json = parseJson(transaction, response);
  // A lone data set may come wrapped in an array.
  const dataset: unknown = Array.isArray(json) && json.length === 1 ? json[0] : json;
  if (!isJsonObject(dataset)) {
    throw invalidResponse(transaction, 'expected a DICOM JSON object');
  }
  const answer = dataset as DicomJsonDataset;

  return {
    status: response.status,
    retrieveUrl: firstString(answer, tags.RetrieveURL),
    referenced: sequenceItems(answer, tags.ReferencedSOPSequence).map((item) => ({
      ...sopReference(item),
      retrieveUrl: firstString(item, tags.RetrieveURL),
      warningReason: firstNumber(item, tags.WarningReason),
    })),
    failed: sequenceItems(answer, tags.FailedSOPSequence).map((item) => ({
      ...sopReference(item),
      failureReason: firstNumber(item, tags.FailureReason),
    })),
  };
}

function sopReference(item: DicomJsonDataset) {
  return {
    sopClassUid: firstString(item, tags.ReferencedSOPClassUID),
    sopInstanceUid: firstString(item, tags.ReferencedSOPInstanceUID),
  };
}
