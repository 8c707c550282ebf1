/**
 * The FHIR R4 client of jointspace: `fhir-kit-client` configured from the settings
 * (`fhirSettingsFromEnv`), with authentication, a timeout on every exchange, pagination, and
 * failures mapped onto JointspaceError (see errors.ts for the table).
 *
 * Only the REST interactions jointspace uses (https://hl7.org/fhir/R4/http.html): read,
 * search-type (GET, following `next` links), create (optionally conditional, If-None-Exist),
 * update, and batch/transaction. `JOINTSPACE_FHIR_URL` is the only coupling to the server, so
 * any R4 server (HAPI, Medplum, a vendor's) works.
 *
 * Never logged and never put in a message: URLs, search values, resource ids, bodies.
 * fhir-kit-client itself writes URLs and headers (Authorization included) to the `debug`
 * logger `fhir-kit-client:*`, so DEBUG must not enable it in production.
 */
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { Client, type FhirResource, type RequestOptions } from 'fhir-kit-client';
import { isStaleConnection, networkCode } from '../dicomweb/transport.js';
import { JointspaceError } from '../errors.js';
import type { Logger } from '../log.js';
import { fhirHttpFailure, fhirInvalidResponse, fhirUnreachable } from './errors.js';
import type { FhirSettings } from './settings.js';
import { SmartTokenSource } from './smart.js';

export { fhirSettingsFromEnv, FHIR_CONFIG_VARIABLES, type FhirSettings } from './settings.js';

/** Search parameters in order; a list repeats the parameter (`date=ge…&date=le…`). */
export type SearchParameters = Record<string, string | string[]>;

export interface FhirClientOptions {
  logger?: Logger;
  /** The clock of token expiry (tests move it). */
  now?: () => number;
}

/** More pages than this for one search is refused rather than read without end. */
export const MAX_SEARCH_PAGES = 50;
/** The page size asked for; servers may answer with fewer per page. */
export const SEARCH_PAGE_SIZE = 200;

const ISSUE_CODE = /^[a-z][a-z-]{1,30}$/;

export class FhirClient {
  private readonly kit: Client;
  private readonly tokens: SmartTokenSource | undefined;
  private readonly logger: Logger | undefined;

  constructor(
    readonly settings: FhirSettings,
    options: FhirClientOptions = {},
  ) {
    this.kit = new Client({ baseUrl: settings.url });
    this.logger = options.logger;
    const auth = settings.auth;
    this.tokens =
      auth.kind === 'smart-backend-services'
        ? new SmartTokenSource(auth, settings.timeoutMs, options.now, options.logger)
        : undefined;
  }

  /** FHIR read (`GET [base]/[type]/[id]`). */
  async read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T> {
    const operation = `FHIR read ${resourceType}`;
    const resource = await this.exchange(operation, (options) =>
      this.kit.read({ resourceType, id, options }),
    );
    return expectType<T>(operation, resource, resourceType);
  }

  /**
   * FHIR search (`GET [base]/[type]?…`), every page: the resources of `resourceType` the
   * server returned as matches (entries included by `_include` are left out).
   */
  async search<T extends Resource>(
    resourceType: T['resourceType'],
    parameters: SearchParameters = {},
  ): Promise<T[]> {
    const operation = `FHIR search ${resourceType}`;
    const searchParams = { _count: String(SEARCH_PAGE_SIZE), ...parameters };
    let page = await this.exchange(operation, (options) =>
      this.kit.search({ resourceType, searchParams, options }),
    );

    const found: T[] = [];
    for (let pages = 1; ; pages++) {
      const bundle = expectType<Bundle>(operation, page, 'Bundle');
      for (const entry of bundle.entry ?? []) {
        const mode = entry.search?.mode;
        if (entry.resource?.resourceType === resourceType && (mode ?? 'match') === 'match') {
          found.push(entry.resource as T);
        }
      }

      const next = this.nextLink(operation, bundle);
      if (next === undefined) return found;
      if (pages >= MAX_SEARCH_PAGES) {
        throw fhirInvalidResponse(operation, `more than ${MAX_SEARCH_PAGES} pages of results`);
      }
      page = await this.exchange(operation, (options) => this.kit.request(next, { options }));
    }
  }

  /**
   * FHIR create (`POST [base]/[type]`); with `ifNoneExist` (a search query such as
   * `identifier=urn:x|1`) a conditional create that returns the match instead of a duplicate.
   */
  async create<T extends Resource>(
    resource: T,
    options: { ifNoneExist?: string } = {},
  ): Promise<T> {
    const operation = `FHIR create ${resource.resourceType}`;
    const headers: Record<string, string> =
      options.ifNoneExist === undefined ? {} : { 'if-none-exist': options.ifNoneExist };
    const created = await this.exchange(
      operation,
      (request) =>
        this.kit.create({
          resourceType: resource.resourceType,
          body: resource as unknown as FhirResource,
          options: { ...request, headers: { ...request.headers, ...headers } },
        }),
      false,
    );
    return expectType<T>(operation, created, resource.resourceType);
  }

  /** FHIR update (`PUT [base]/[type]/[id]`); the resource must carry its id. */
  async update<T extends Resource>(resource: T): Promise<T> {
    const operation = `FHIR update ${resource.resourceType}`;
    const id = resource.id;
    if (id === undefined || id === '') {
      throw new JointspaceError('invalid-argument', `${operation}: the resource has no id`, {
        status: 400,
      });
    }
    const updated = await this.exchange(operation, (options) =>
      this.kit.update({
        resourceType: resource.resourceType,
        id,
        body: resource as unknown as FhirResource,
        options,
      }),
    );
    return expectType<T>(operation, updated, resource.resourceType);
  }

  /** FHIR transaction (`POST [base]` with a Bundle of type transaction): all or nothing. */
  async transaction(bundle: Bundle): Promise<Bundle> {
    const operation = 'FHIR transaction';
    const answer = await this.exchange(
      operation,
      (options) => this.kit.transaction({ body: bundle as unknown as FhirResource, options }),
      false,
    );
    return expectType<Bundle>(operation, answer, 'Bundle');
  }

  /** FHIR batch (`POST [base]` with a Bundle of type batch): each entry on its own. */
  async batch(bundle: Bundle): Promise<Bundle> {
    const operation = 'FHIR batch';
    const answer = await this.exchange(
      operation,
      (options) => this.kit.batch({ body: bundle as unknown as FhirResource, options }),
      false,
    );
    return expectType<Bundle>(operation, answer, 'Bundle');
  }

  /**
   * One call of fhir-kit-client with authentication and timeout, its failure mapped. Made once
   * more, at most once for each cause: with SMART after a 401 (the token may have been revoked
   * or expired early), with a new token; and, for a read or search only, after a socket error
   * that means the server closed an idle keep-alive connection as the request went out on it.
   */
  private async exchange(
    operation: string,
    call: (options: RequestOptions) => Promise<FhirResource>,
    idempotent = true,
  ): Promise<FhirResource> {
    let renewedToken = false;
    let reconnected = false;
    for (;;) {
      const authorization = await this.authorization();
      const started = performance.now();
      try {
        const answer = await call({
          headers: authorization === undefined ? {} : { authorization },
          signal: AbortSignal.timeout(this.settings.timeoutMs),
        });
        this.logDone(operation, 'ok', started);
        return answer;
      } catch (error) {
        const status = httpStatus(error);
        this.logDone(operation, status ?? networkCode(error), started);
        if (status === 401 && this.tokens !== undefined && !renewedToken) {
          renewedToken = true;
          this.tokens.invalidate(authorization?.replace(/^Bearer /, '') ?? '');
          continue;
        }
        if (status === undefined && idempotent && !reconnected && isStaleConnection(error)) {
          reconnected = true;
          continue;
        }
        throw this.failure(operation, error, status);
      }
    }
  }

  private async authorization(): Promise<string | undefined> {
    const auth = this.settings.auth;
    switch (auth.kind) {
      case 'none':
        return undefined;
      case 'bearer':
        return `Bearer ${auth.token}`;
      case 'basic':
        return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      case 'smart-backend-services':
        return `Bearer ${await (this.tokens as SmartTokenSource).token()}`;
    }
  }

  /**
   * fhir-kit-client's own error carries the URL (with search values) in its message and the
   * request headers (with credentials) in `config`, so it is never kept as the cause.
   */
  private failure(operation: string, error: unknown, status: number | undefined): JointspaceError {
    if (error instanceof JointspaceError) return error;
    if (status === undefined) return fhirUnreachable(operation, error, this.settings.timeoutMs);
    if (status < 400) {
      return fhirInvalidResponse(operation, `HTTP ${status} with a body that is not JSON`);
    }
    return fhirHttpFailure(operation, status, issueCodes(error));
  }

  /** The `next` link, refused when it leaves the configured base (credentials would follow it). */
  private nextLink(operation: string, bundle: Bundle): string | undefined {
    const next = bundle.link?.find((link) => link.relation === 'next')?.url;
    if (next === undefined || next === '') return undefined;
    if (!next.startsWith(this.settings.url)) {
      throw fhirInvalidResponse(
        operation,
        'the next page link leaves the configured FHIR base URL',
      );
    }
    return next;
  }

  private logDone(operation: string, outcome: number | string, started: number): void {
    this.logger?.debug('fhir.exchange', {
      operation,
      outcome,
      ms: Math.round(performance.now() - started),
    });
  }
}

function expectType<T extends Resource>(
  operation: string,
  answer: FhirResource,
  resourceType: T['resourceType'],
): T {
  if (answer.resourceType !== resourceType) {
    throw fhirInvalidResponse(
      operation,
      `expected a ${resourceType}, got ${typeof answer.resourceType === 'string' ? answer.resourceType.slice(0, 40) : 'no resource'}`,
    );
  }
  return answer as unknown as T;
}

/** The HTTP status of a fhir-kit-client error (`error.response.status`); absent: no answer. */
function httpStatus(error: unknown): number | undefined {
  const status = (error as { response?: { status?: unknown } } | undefined)?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * The issue codes of an OperationOutcome answer (`not-found`, `security`, `invalid`, ...):
 * codes from a fixed value set, so free of patient data, unlike `diagnostics` and `details`.
 */
function issueCodes(error: unknown): string {
  const data = (error as { response?: { data?: unknown } }).response?.data;
  const outcome = data as OperationOutcome | undefined;
  if (outcome?.resourceType !== 'OperationOutcome') return '';
  const issues: unknown[] = Array.isArray(outcome.issue) ? outcome.issue : [];
  const codes = issues
    .map((issue) => (issue as { code?: unknown }).code)
    .filter((code): code is string => typeof code === 'string' && ISSUE_CODE.test(code));
  return [...new Set(codes)].slice(0, 3).join(', ');
}
