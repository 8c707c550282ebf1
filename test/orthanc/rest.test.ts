/**
 * The Orthanc REST client against small local HTTP servers that answer what a test needs:
 * the requests it sends and the mapping of refusals, silence and malformed answers to errors.
 * Its calls against a real Orthanc are in poller.test.ts.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import test from 'ava';
import { OrthancRestClient } from '../../src/orthanc/rest.js';
import { errorOf } from '../helpers/errors.js';
import { freePort } from '../helpers/orthanc.js';

const STUDY_ID = '0a1b2c3d-0a1b2c3d-0a1b2c3d-0a1b2c3d-0a1b2c3d';

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

/** Runs `body` with a client of a local server that answers each request with `answer`. */
async function withServer(
  answer: (response: ServerResponse, url: string) => void,
  body: (client: OrthancRestClient) => Promise<void>,
  options: { username?: string; password?: string; timeoutMs?: number } = {},
): Promise<Seen[]> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    seen.push({ url: request.url ?? '', headers: request.headers });
    answer(response, request.url ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  try {
    await body(new OrthancRestClient({ url: `http://127.0.0.1:${address.port}`, ...options }));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  return seen;
}

function json(status: number, value: unknown) {
  return (response: ServerResponse) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(value));
  };
}

test('sends the paths and query Orthanc documents, with Basic credentials', async (t) => {
  const page = { Changes: [], Done: true, Last: 7 };
  const seen = await withServer(
    json(200, page),
    async (client) => {
      t.deepEqual(await client.changes(5, 50), { changes: [], done: true, last: 7 });
      t.is(await client.lastChange(), 7);
    },
    { username: 'jointspace', password: 'test-password' },
  );
  t.deepEqual(
    seen.map((request) => request.url),
    ['/changes?since=5&limit=50', '/changes?last'],
  );
  const token = Buffer.from('jointspace:test-password').toString('base64');
  t.is(seen[0]?.headers.authorization, `Basic ${token}`);
});

test('reads the changes of a page', async (t) => {
  const change = {
    ChangeType: 'StableStudy',
    Date: '20250101T120000',
    ID: STUDY_ID,
    Path: `/studies/${STUDY_ID}`,
    ResourceType: 'Study',
    Seq: 12,
  };
  await withServer(json(200, { Changes: [change], Done: false, Last: 12 }), async (client) => {
    t.deepEqual(await client.changes(11, 1), {
      changes: [
        {
          seq: 12,
          changeType: 'StableStudy',
          id: STUDY_ID,
          resourceType: 'Study',
          date: '20250101T120000',
        },
      ],
      done: false,
      last: 12,
    });
  });
});

test('connection refused, silence and 5xx are pacs-unavailable and transient', async (t) => {
  const refused = new OrthancRestClient({ url: `http://127.0.0.1:${await freePort()}/` });
  const error = await errorOf(refused.system());
  t.is(error.code, 'pacs-unavailable');
  t.false(error.permanent);
  t.is(error.message, 'Orthanc REST system: cannot reach Orthanc (ECONNREFUSED)');

  await withServer(
    () => undefined, // never answers
    async (client) => {
      const silent = await errorOf(client.lastChange());
      t.is(silent.code, 'pacs-unavailable');
      t.is(silent.message, 'Orthanc REST lastChange: Orthanc did not answer within 200 ms');
    },
    { timeoutMs: 200 },
  );

  await withServer(json(503, {}), async (client) => {
    const unavailable = await errorOf(client.changes(0, 10));
    t.is(unavailable.code, 'pacs-unavailable');
    t.false(unavailable.permanent);
    t.is(unavailable.message, 'Orthanc REST changes: Orthanc answered HTTP 503');
  });
});

test('a 404 study is absent; other refusals are pacs-rejected', async (t) => {
  await withServer(json(404, {}), async (client) => {
    t.is(await client.studyInstanceUid(STUDY_ID), undefined);
  });
  await withServer(json(401, {}), async (client) => {
    const error = await errorOf(client.system());
    t.is(error.code, 'pacs-rejected');
    t.true(error.permanent);
    t.regex(error.message, /HTTP 401 \(check the Orthanc credentials\)/);
  });
});

test('malformed answers are pacs-invalid-response naming what is wrong', async (t) => {
  const cases: [unknown, string][] = [
    [{ Changes: {}, Done: true, Last: 0 }, 'Changes is not an array'],
    [{ Changes: [], Last: 0 }, 'Done is not a boolean'],
    [{ Changes: [], Done: true, Last: -1 }, 'Last is missing or not a whole number ≥ 0'],
    [
      {
        Changes: [{ Seq: '1', ChangeType: 'x', ID: 'y', ResourceType: 'z', Date: 'd' }],
        Done: true,
        Last: 1,
      },
      'Changes[0].Seq is missing or not a whole number ≥ 0',
    ],
    [[], 'the answer is not a JSON object'],
  ];
  for (const [answer, message] of cases) {
    await withServer(json(200, answer), async (client) => {
      const error = await errorOf(client.changes(0, 10));
      t.is(error.code, 'pacs-invalid-response');
      t.is(error.message, `Orthanc REST changes: ${message}`);
    });
  }

  await withServer(json(200, { MainDicomTags: {} }), async (client) => {
    const error = await errorOf(client.studyInstanceUid(STUDY_ID));
    t.is(
      error.message,
      'Orthanc REST study: MainDicomTags.StudyInstanceUID is missing or not a non-empty string',
    );
  });

  await withServer(
    (response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html>proxy login</html>');
    },
    async (client) => {
      t.is((await errorOf(client.system())).message, 'Orthanc REST system: the answer is not JSON');
    },
  );
});

test('refuses bad options and arguments before sending anything', async (t) => {
  const build = (options: ConstructorParameters<typeof OrthancRestClient>[0]) => () =>
    new OrthancRestClient(options);
  t.throws(build({ url: 'ftp://orthanc/' }), { message: /http or https URL/ });
  t.throws(build({ url: 'http://user:secret@orthanc/' }), { message: /must not hold credentials/ });
  t.throws(build({ url: 'http://orthanc/', username: 'only' }), { message: /together/ });
  t.throws(build({ url: 'http://orthanc/', timeoutMs: 0 }), { message: /timeoutMs/ });

  const seen = await withServer(json(200, {}), async (client) => {
    t.is((await errorOf(client.changes(-1, 10))).code, 'invalid-argument');
    t.is((await errorOf(client.changes(0, 0))).code, 'invalid-argument');
    t.is((await errorOf(client.studyInstanceUid('../tools/reset'))).code, 'invalid-argument');
  });
  t.deepEqual(seen, []);
});
