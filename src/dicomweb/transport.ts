/**
 * One HTTP exchange with a DICOMweb origin server over global `fetch`, and the mapping of its
 * failures onto JointspaceError (PS3.18 8.5 Status Codes):
 *
 * | outcome | code | permanent |
 * |---------|------|-----------|
 * | connection refused or reset, DNS failure, timeout | pacs-unavailable | no |
 * | HTTP 5xx, 408 Request Timeout, 429 Too Many Requests | pacs-unavailable | no |
 * | any other HTTP 4xx (bad request, 401, 403, 404, 409 ...) | pacs-rejected | yes |
 *
 * Messages name the transaction and the HTTP status only. URLs are never put in a message or
 * a log line: their paths and query strings carry UIDs and search values, which may be PHI.
 */
import { JointspaceError } from '../errors.js';
import type { Logger } from '../log.js';

/** The DICOMweb transactions of PS3.18 chapter 10 that the client performs. */
export type Transaction =
  | 'searchForStudies'
  | 'searchForSeries'
  | 'searchForInstances'
  | 'retrieveInstance'
  | 'retrieveFrames'
  | 'retrieveInstanceMetadata'
  | 'storeInstances';

export interface Connection {
  /** Base URL of the service, ending with `/`. */
  baseUrl: URL;
  /** The Authorization header value, when the server wants one. */
  authorization?: string;
  /** Limit for the whole exchange, body included. */
  timeoutMs: number;
  logger?: Logger;
}

export interface PacsRequest {
  transaction: Transaction;
  /** Path relative to the base URL, e.g. `studies/1.2.3/series`; UIDs already checked. */
  path: string;
  /** Query parameters in order; names are sent as given, values through `encodeValue`. */
  query?: readonly (readonly [string, string])[];
  method?: 'GET' | 'POST';
  accept: string;
  contentType?: string;
  body?: Uint8Array;
  /** Failure statuses whose answer the caller reads instead of an error (STOW-RS 409). */
  readable?: readonly number[];
}

export interface PacsResponse {
  status: number;
  contentType: string | undefined;
  body: Uint8Array;
}

/** Sends `request` and reads the whole answer; a status of 400 or more is thrown. */
export async function exchange(
  connection: Connection,
  request: PacsRequest,
): Promise<PacsResponse> {
  const url = new URL(request.path, connection.baseUrl);
  if (request.query !== undefined && request.query.length > 0) {
    url.search = `?${request.query.map(([name, value]) => `${name}=${encodeValue(value)}`).join('&')}`;
  }

  const started = performance.now();
  const response = await send(connection, request, url);
  connection.logger?.debug('dicomweb.response', {
    transaction: request.transaction,
    status: response.status,
    ms: Math.round(performance.now() - started),
  });

  if (!(request.readable ?? []).includes(response.status)) {
    throwOnFailure(request.transaction, response.status);
  }
  return response;
}

/**
 * A query value, percent-encoded only where RFC 3986 requires it and a few characters beyond.
 *
 * PS3.18 8.3.4 lets origin servers decode percent-encoding, but Orthanc 1.10 (DICOMweb plugin
 * 1.7) passes query values to its matcher undecoded: `PatientName=Test%5EKnee` finds nothing
 * where `PatientName=Test^Knee` finds the patient. So the characters DICOM matching uses
 * (`^` name components, `*` and `?` wildcards, `\` and `,` lists, `-` ranges) and the other
 * characters a URL query may carry unencoded are sent as they are. Characters that would change
 * the structure of the query (`&`, `=`, `#`, `+`, `%`), spaces, controls and non-ASCII text
 * are still encoded; Orthanc 1.10 then matches against the encoded text and finds nothing, so
 * a value with a space has to be searched with `?` in its place there.
 */
export function encodeValue(value: string): string {
  return encodeURIComponent(value).replace(/%(5E|3F|2C|5C|3A|40|2F|3B|24|7C)/gi, (escape) =>
    decodeURIComponent(escape),
  );
}

const STALE_CONNECTION = new Set(['UND_ERR_SOCKET', 'ECONNRESET']);

/**
 * Whether `error` is a socket closed under a request, as when a server drops an idle keep-alive
 * connection just as the request goes out: a request that changes nothing may be sent again.
 */
export function isStaleConnection(error: unknown): boolean {
  return STALE_CONNECTION.has(networkCode(error));
}

/**
 * The root URL of an HTTP service (a trailing slash added, so relative paths resolve below it).
 * Only http and https, and no credentials in the URL: they would end up in logs.
 */
export function serviceRoot(url: string): URL {
  const refuse = (message: string, cause?: unknown) =>
    new JointspaceError('invalid-argument', message, { cause, status: 400 });
  let root: URL;
  try {
    root = new URL(url.endsWith('/') ? url : `${url}/`);
  } catch (error) {
    throw refuse('url must be an absolute http or https URL', error);
  }
  if (root.protocol !== 'http:' && root.protocol !== 'https:') {
    throw refuse('url must be an absolute http or https URL');
  }
  if (root.username !== '' || root.password !== '') {
    throw refuse('url must not hold credentials; give username and password');
  }
  return root;
}

async function send(connection: Connection, request: PacsRequest, url: URL): Promise<PacsResponse> {
  const headers: Record<string, string> = { accept: request.accept };
  if (request.contentType !== undefined) headers['content-type'] = request.contentType;
  if (connection.authorization !== undefined) headers.authorization = connection.authorization;
  const method = request.method ?? 'GET';

  // A server may close an idle keep-alive connection just as a request goes out on it (Orthanc
  // closes them after its KeepAliveTimeout). A GET changes nothing, so it is repeated once.
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url, {
        method,
        headers,
        body: request.body ?? null,
        signal: AbortSignal.timeout(connection.timeoutMs),
      });
      const body = new Uint8Array(await response.arrayBuffer());
      return {
        status: response.status,
        contentType: response.headers.get('content-type') ?? undefined,
        body,
      };
    } catch (error) {
      if (method === 'GET' && attempt === 1 && isStaleConnection(error)) {
        connection.logger?.debug('dicomweb.retry-stale-connection', {
          transaction: request.transaction,
        });
        continue;
      }
      throw unreachable(request.transaction, error, connection.timeoutMs);
    }
  }
}

function unreachable(transaction: Transaction, error: unknown, timeoutMs: number): JointspaceError {
  const timedOut = error instanceof Error && error.name === 'TimeoutError';
  const reason = timedOut
    ? `the PACS did not answer within ${timeoutMs} ms`
    : `cannot reach the PACS (${networkCode(error)})`;
  return new JointspaceError('pacs-unavailable', `DICOMweb ${transaction}: ${reason}`, {
    cause: error,
    status: timedOut ? 504 : 503,
    permanent: false,
  });
}

/** The system error code (ECONNREFUSED, ECONNRESET, ...) fetch keeps in its cause chain. */
export function networkCode(error: unknown): string {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return 'network error';
}

function throwOnFailure(transaction: Transaction, status: number): void {
  if (status < 400) return;

  if (status >= 500 || status === 408 || status === 429) {
    throw new JointspaceError(
      'pacs-unavailable',
      `DICOMweb ${transaction}: the PACS answered HTTP ${status}`,
      { status: 503, permanent: false },
    );
  }
  throw new JointspaceError(
    'pacs-rejected',
    `DICOMweb ${transaction}: the PACS refused the request with HTTP ${status}`,
    { status: 502, permanent: true },
  );
}

/** A complete answer that does not have the form PS3.18 prescribes for the transaction. */
export function invalidResponse(transaction: Transaction, what: string, cause?: unknown) {
  return new JointspaceError('pacs-invalid-response', `DICOMweb ${transaction}: ${what}`, {
    cause,
    status: 502,
    permanent: true,
  });
}
