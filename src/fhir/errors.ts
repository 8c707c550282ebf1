/**
 * The failures of talking to the FHIR server or its token endpoint, as JointspaceErrors:
 *
 * | outcome | code | permanent | status |
 * |---------|------|-----------|--------|
 * | connection refused or reset, DNS failure | FHIR_UNAVAILABLE | no | 503 |
 * | no complete answer within the timeout | FHIR_UNAVAILABLE | no | 504 |
 * | HTTP 5xx, 408, 429 | FHIR_UNAVAILABLE | no | 503 |
 * | any other HTTP 4xx (401, 403, 404, 400, 409, 422 ...) | FHIR_REJECTED | yes | 502 |
 * | an answer of the wrong form (not JSON, not the resource asked for) | FHIR_INVALID_RESPONSE | yes | 502 |
 *
 * Messages name the operation, the resource type and the HTTP status, never a URL, search
 * value or resource id: FHIR URLs carry identifiers and query values that are patient data.
 */
import { networkCode } from '../dicomweb/transport.js';
import { JointspaceError, type ErrorCode } from '../errors.js';

export const FHIR_UNAVAILABLE: ErrorCode = 'fhir-unavailable';
export const FHIR_REJECTED: ErrorCode = 'fhir-rejected';
export const FHIR_INVALID_RESPONSE: ErrorCode = 'fhir-invalid-response';

/** A transient failure: the server could not be reached or asked to come back later. */
export function fhirUnreachable(operation: string, error: unknown, timeoutMs: number) {
  const timedOut = error instanceof Error && error.name === 'TimeoutError';
  const reason = timedOut
    ? `no answer within ${timeoutMs} ms`
    : `cannot reach the server (${networkCode(error)})`;
  return new JointspaceError(FHIR_UNAVAILABLE, `${operation}: ${reason}`, {
    cause: error,
    status: timedOut ? 504 : 503,
    permanent: false,
  });
}

/** The error for an HTTP status of 400 or more; `detail` must be free of patient data. */
export function fhirHttpFailure(operation: string, status: number, detail = ''): JointspaceError {
  const suffix = detail === '' ? '' : ` (${detail})`;
  if (status >= 500 || status === 408 || status === 429) {
    return new JointspaceError(
      FHIR_UNAVAILABLE,
      `${operation}: the server answered HTTP ${status}${suffix}`,
      { status: 503, permanent: false },
    );
  }
  return new JointspaceError(
    FHIR_REJECTED,
    `${operation}: the server refused the request with HTTP ${status}${suffix}`,
    { status: 502, permanent: true },
  );
}

export function fhirInvalidResponse(operation: string, what: string): JointspaceError {
  return new JointspaceError(FHIR_INVALID_RESPONSE, `${operation}: ${what}`, {
    status: 502,
    permanent: true,
  });
}
