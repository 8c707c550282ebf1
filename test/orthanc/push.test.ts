/**
 * The push script in a real Orthanc 1.10: a small HTTP server stands in for jointspace's
 * `POST /api/orthanc/stable-study` and records what arrives; the script reads the URL and the
 * secret from Orthanc's configuration. Each test starts its own Orthanc, one at a time.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import test, { type ExecutionContext } from 'ava';
import { PUSH_SCRIPT_PATH, STABLE_STUDY_ROUTE } from '../../src/orthanc/push-script.js';
import { kneeDx } from '../dicomweb/knee-dx.js';
import { freePort, startOrthanc, type Orthanc, type OrthancOptions } from '../helpers/orthanc.js';
import { tinyStudy, upload, waitUntilStable } from './studies.js';

const SECRET = 'test-webhook-secret-not-for-production';

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A stand-in for jointspace's push endpoint, answering `status` (202 with a job id). */
class Receiver {
  readonly received: Received[] = [];
  status = 202;
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.received.push({
          method: request.method ?? '',
          path: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        response.writeHead(this.status, { 'content-type': 'application/json' });
        response.end(this.status === 202 ? '{"jobId":"test-job"}' : '{"error":"refused"}');
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return `http://127.0.0.1:${address.port}`;
  }

  /** The requests naming `orthancStudyId`. */
  about(orthancStudyId: string): Received[] {
    return this.received.filter((request) => request.body.includes(orthancStudyId));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/**
 * Runs `body` with an Orthanc that loads the push script from where it ships, as an operator's
 * would; prints Orthanc's log if the test fails.
 */
async function withPushingOrthanc(
  t: ExecutionContext,
  configuration: Record<string, unknown>,
  body: (orthanc: Orthanc) => Promise<void>,
): Promise<void> {
  const options: OrthancOptions = {
    luaScriptFiles: [PUSH_SCRIPT_PATH],
    stableAgeSeconds: 1,
    configuration,
  };
  const orthanc = await startOrthanc(options);
  try {
    await body(orthanc);
  } catch (error) {
    t.log(`Orthanc log:\n${await orthanc.logTail(60)}`);
    throw error;
  } finally {
    await orthanc.dispose();
  }
}

async function eventually<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function logLine(orthanc: Orthanc, pattern: RegExp): Promise<string> {
  return eventually(`a log line matching ${pattern}`, async () =>
    (await orthanc.logTail(400)).split('\n').find((line) => pattern.test(line)),
  );
}

async function answers(orthanc: Orthanc): Promise<boolean> {
  const response = await fetch(new URL('system', orthanc.url));
  await response.arrayBuffer();
  return response.ok;
}

test.serial(
  'a stable study is posted with the bearer secret, its Orthanc id and its UID',
  async (t) => {
    const receiver = new Receiver();
    const url = await receiver.listen();
    try {
      // A trailing slash on the configured URL must not double the route's slash.
      const jointspace = { Url: `${url}/`, WebhookSecret: SECRET };
      await withPushingOrthanc(t, { Jointspace: jointspace }, async (orthanc) => {
        t.regex(await logLine(orthanc, /jointspace push: stable studies go to/), /stable-study/);

        const knee = await kneeDx();
        const studyId = await upload(orthanc, {
          bytes: knee.bytes,
          studyInstanceUid: knee.reference.studyInstanceUid,
        });
        const [request] = await eventually('the push', () => {
          const found = receiver.about(studyId);
          return found.length > 0 ? found : undefined;
        });

        t.is(request?.method, 'POST');
        t.is(request?.path, STABLE_STUDY_ROUTE);
        t.is(request?.headers.authorization, `Bearer ${SECRET}`);
        t.is(request?.headers['content-type'], 'application/json');
        t.deepEqual(JSON.parse(request?.body ?? 'null'), {
          orthancStudyId: studyId,
          studyInstanceUid: knee.reference.studyInstanceUid,
        });

        // A study holding nothing but jointspace's own output is not posted. Lua events run
        // in order, so once the next study's push has arrived, that one was handled.
        const own = await upload(orthanc, tinyStudy({ manufacturer: 'jointspace' }));
        await waitUntilStable(orthanc, [own]);
        const next = await upload(orthanc, tinyStudy({ manufacturer: 'Test Imaging Co' }));
        await eventually('the next push', () =>
          receiver.about(next).length > 0 ? true : undefined,
        );
        t.deepEqual(receiver.about(own), []);

        // A refusal (wrong secret, say) is logged by the script; Orthanc carries on.
        receiver.status = 401;
        const refused = await upload(orthanc, tinyStudy());
        t.regex(
          await logLine(orthanc, new RegExp(`study ${refused} not accepted`)),
          /poller will find the study/,
        );
        t.true(await answers(orthanc));
      });
    } finally {
      await receiver.close();
    }
  },
);

test.serial(
  'jointspace down: the script logs the study id and Orthanc keeps running',
  async (t) => {
    const closedPort = await freePort();
    const jointspace = { Url: `http://127.0.0.1:${closedPort}`, WebhookSecret: SECRET };
    await withPushingOrthanc(t, { Jointspace: jointspace }, async (orthanc) => {
      const study = tinyStudy();
      const first = await upload(orthanc, study);
      const line = await logLine(orthanc, new RegExp(`study ${first} not delivered`));
      t.regex(line, /jointspace did not answer/);
      t.notRegex(line, /Test\^Intake|TEST-INTAKE|2\.25\./, 'no patient data, no UID');

      // Still up, still storing, still running the script.
      t.true(await answers(orthanc));
      const second = await upload(orthanc, tinyStudy());
      await logLine(orthanc, new RegExp(`study ${second} not delivered`));
    });
  },
);

test.serial('without a Jointspace section the script says so and sends nothing', async (t) => {
  await withPushingOrthanc(t, {}, async (orthanc) => {
    await logLine(orthanc, /jointspace push: off: the configuration has no "Jointspace" section/);
    const study = await upload(orthanc, tinyStudy());
    await logLine(orthanc, new RegExp(`study ${study} not sent`));
    t.true(await answers(orthanc));
  });
});
