/**
 * The one error type of jointspace.
 *
 * `message` is safe to show to the caller (it names what is wrong and never
 * carries patient data); the underlying error is kept as `cause`. `permanent`
 * tells the pipeline whether retrying can help.
 */
export type ErrorCode =
  | 'unreadable-file'
  | 'unsupported-format'
  | 'invalid-dicom'
  | 'unsupported-transfer-syntax'
  | 'decode-failed'
  | 'limit-exceeded'
  | 'not-a-knee-radiograph'
  | 'model-unavailable'
  | 'invalid-argument'
  | 'pacs-unavailable'
  | 'pacs-rejected'
  | 'pacs-invalid-response'
  | 'fhir-unavailable'
  | 'fhir-rejected'
  | 'fhir-invalid-response'
  | 'invalid-configuration'
  | 'unauthorized'
  | 'not-found'
  | 'method-not-allowed'
  | 'unsupported-media-type';

export class JointspaceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly permanent: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; status?: number; permanent?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JointspaceError';
    this.code = code;
    this.status = options.status ?? 422;
    this.permanent = options.permanent ?? true;
  }
}

/** A message for any thrown value, without stack or cause chain. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
