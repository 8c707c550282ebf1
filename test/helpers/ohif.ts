/**
 * The prebuilt OHIF viewer (`@ohif/app`, its `dist/`) served for one test file on a free
 * loopback port, with our own `app-config.js` whose single data source is DICOMweb on the same
 * origin: `/dicom-web/...` is proxied to a test Orthanc, so the browser talks to one origin
 * and nothing needs CORS. Client routes such as `/viewer` get `index.html`.
 *
 * The viewer is fetched once into `.cache/ohif/<version>/dist` by scripts/fetch-ohif.mjs (the
 * version is pinned there); `ohifDist()` runs that script, which returns at once when the
 * folder is already there.
 */
import { execFile } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './paths.js';

const run = promisify(execFile);

export const FETCH_OHIF_SCRIPT = join(repoRoot, 'scripts', 'fetch-ohif.mjs');
/** npm pack of a ~50 MB tarball and its unpacking; only on a fresh clone. */
const FETCH_TIMEOUT_MS = 420_000;
const PROXY_TIMEOUT_MS = 60_000;
/** Path prefix of the proxied DICOMweb service, on the viewer's own origin. */
const DICOMWEB_PATH = '/dicom-web';
const DATA_SOURCE_NAME = 'jointspace-orthanc';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml',
};

/** The viewer's `dist` folder, fetched first when missing (see scripts/fetch-ohif.mjs). */
export async function ohifDist(): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, [FETCH_OHIF_SCRIPT], {
      cwd: repoRoot,
      timeout: FETCH_TIMEOUT_MS,
    }));
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`the OHIF viewer is missing; run \`node scripts/fetch-ohif.mjs\`: ${stderr}`, {
      cause: error,
    });
  }
  const dist = stdout.trim().split('\n').pop() ?? '';
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(`scripts/fetch-ohif.mjs printed "${dist}", which has no index.html`);
  }
  return dist;
}

export interface OhifServerOptions {
  /** The viewer's `dist` folder. */
  dist: string;
  /** Orthanc's DICOMweb root, e.g. `http://127.0.0.1:40123/dicom-web/`. */
  dicomWebUrl: string;
}

export interface OhifServer {
  /** Origin of the viewer, e.g. `http://127.0.0.1:40124`. */
  url: string;
  /** What went wrong while serving: missing files, proxy failures (for the test log). */
  problems: string[];
  close(): Promise<void>;
}

/** Serves the viewer on 127.0.0.1 at a port the kernel picks (so no race for it). */
export async function startOhifServer(options: OhifServerOptions): Promise<OhifServer> {
  const problems: string[] = [];
  let origin = '';
  const server = createServer((request, response) => {
    handle(request, response, { ...options, origin, problems }).catch((error: unknown) => {
      problems.push(`${request.method ?? '?'} ${request.url ?? '?'}: ${String(error)}`);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP port assigned');
  origin = `http://127.0.0.1:${address.port}`;

  return {
    url: origin,
    problems,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface Context extends OhifServerOptions {
  origin: string;
  problems: string[];
}

async function handle(request: IncomingMessage, response: ServerResponse, context: Context) {
  const path = new URL(request.url ?? '/', context.origin).pathname;
  if (path === DICOMWEB_PATH || path.startsWith(`${DICOMWEB_PATH}/`)) {
    proxy(request, response, context);
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (path === '/app-config.js') {
    send(response, request, 200, CONTENT_TYPES['.js'], appConfig(context.origin));
    return;
  }
  await serveFile(request, response, path, context);
}

async function serveFile(
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
  context: Context,
) {
  const file = resolveInside(context.dist, path);
  const found = file === undefined ? undefined : await stat(file).catch(() => undefined);
  if (file !== undefined && found?.isFile() === true) {
    stream(request, response, file, found.size);
    return;
  }
  // Client routes (/viewer, /viewer/...) have no extension; a missing asset stays a 404.
  if (extname(path) === '') {
    const index = join(context.dist, 'index.html');
    stream(request, response, index, (await stat(index)).size);
    return;
  }
  context.problems.push(`404 ${path}`);
  send(response, request, 404, CONTENT_TYPES['.txt'], 'not found\n');
}

/** The file under `root` that `urlPath` names, or undefined when it would leave `root`. */
function resolveInside(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  const file = normalize(join(root, decoded));
  return file === root || file.startsWith(root.endsWith(sep) ? root : `${root}${sep}`)
    ? file
    : undefined;
}

function stream(request: IncomingMessage, response: ServerResponse, file: string, size: number) {
  const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
  response.writeHead(200, { 'content-type': type, 'content-length': size });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  createReadStream(file).pipe(response);
}

function send(
  response: ServerResponse,
  request: IncomingMessage,
  status: number,
  type: string | undefined,
  body: string,
) {
  const bytes = Buffer.from(body);
  response.writeHead(status, {
    'content-type': type ?? 'text/plain',
    'content-length': bytes.length,
  });
  response.end(request.method === 'HEAD' ? undefined : bytes);
}

/**
 * Forwards a DICOMweb request to Orthanc unchanged but for the path prefix. The Host header is
 * kept: Orthanc's DICOMweb plugin builds the BulkDataURIs of its metadata from it, so they
 * point back at this origin.
 */
function proxy(request: IncomingMessage, response: ServerResponse, context: Context) {
  const target = new URL(context.dicomWebUrl);
  const rest = (request.url ?? '').slice(DICOMWEB_PATH.length).replace(/^\//, '');
  const upstream = httpRequest(
    {
      hostname: target.hostname,
      port: target.port,
      method: request.method,
      path: `${target.pathname.replace(/\/?$/, '/')}${rest}`,
      headers: request.headers,
      timeout: PROXY_TIMEOUT_MS,
    },
    (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    },
  );
  upstream.on('timeout', () => upstream.destroy(new Error('Orthanc did not answer in time')));
  upstream.on('error', (error) => {
    context.problems.push(`proxy ${request.method ?? '?'} ${request.url ?? '?'}: ${error.message}`);
    if (!response.headersSent) response.writeHead(502);
    response.end();
  });
  request.pipe(upstream);
}

/**
 * OHIF 3.12's `window.config` (the shape of dist/app-config.js and OHIF's
 * extensions/default DICOMweb data source): one DICOMweb source on this origin, no study list
 * filters that need fuzzy matching, no dialogs that would cover the viewport.
 * `qidoSupportsIncludeField` is off: OHIF sends `includefield` as one comma list, which
 * Orthanc ignores (docs/standards.md).
 */
export function appConfig(origin: string): string {
  const root = `${origin}${DICOMWEB_PATH}`;
  const config = {
    routerBasename: null,
    extensions: [],
    modes: [],
    // The onboarding tour's pop-ups would cover the study browser.
    customizationService: { 'ohif.tours': { $set: [] } },
    showStudyList: true,
    maxNumberOfWebWorkers: 1,
    showWarningMessageForCrossOrigin: false,
    showCPUFallbackMessage: false,
    showLoadingIndicator: true,
    strictZSpacingForVolumeViewport: true,
    investigationalUseDialog: { option: 'never' },
    defaultDataSourceName: DATA_SOURCE_NAME,
    dataSources: [
      {
        namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
        sourceName: DATA_SOURCE_NAME,
        configuration: {
          friendlyName: 'jointspace test Orthanc',
          name: 'orthanc',
          qidoRoot: root,
          wadoRoot: root,
          wadoUriRoot: root,
          qidoSupportsIncludeField: false,
          supportsReject: false,
          dicomUploadEnabled: false,
          imageRendering: 'wadors',
          thumbnailRendering: 'wadors',
          enableStudyLazyLoad: true,
          supportsFuzzyMatching: false,
          supportsWildcard: true,
          omitQuotationForMultipartRequest: true,
          bulkDataURI: { enabled: true },
        },
      },
    ],
  };
  return `window.config = ${JSON.stringify(config, null, 2)};\n`;
}
