/**
 * The DICOMweb client against small local HTTP servers that answer what a test needs: the
 * request it sends (paths, query, headers, multipart body), the mapping of statuses, silence
 * and malformed answers to errors, and the input it refuses before sending anything.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import test from 'ava';
import { DicomWebClient, type InstanceReference } from '../../src/dicomweb/client.js';
import { decodeMultipart, parseMediaType } from '../../src/dicomweb/multipart.js';
import type { ErrorCode } from '../../src/errors.js';
import { errorOf } from '../helpers/errors.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Answer = (request: Seen, response: ServerResponse) => void;

const reference: InstanceReference = {
  studyInstanceUid: '1.2.3',
  seriesInstanceUid: '1.2.3.4',
  sopInstanceUid: '1.2.3.4.5',
};

/** Runs `body` with a client for a local server answering with `answer`; returns the requests. */
async function withServer(
  answer: Answer,
  body: (client: DicomWebClient, url: string) => Promise<void>,
): Promise<Seen[]> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks),
      };
      seen.push(entry);
      answer(entry, response);
    });
  });
  const url = await listen(server);
  try {
    await body(new DicomWebClient({ url: `${url}dicom-web`, timeoutMs: 5_000 }), url);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  return seen;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}/`;
}

function json(status: number, value: unknown): Answer {
  return (_, response) => {
    response.writeHead(status, { 'content-type': 'application/dicom+json' });
    response.end(JSON.stringify(value));
  };
}

function multipart(type: string, parts: { headers: string; body: Buffer }[]): Answer {
  return (_, response) => {
    const boundary = 'test-boundary';
    const chunks = parts.flatMap((part) => [
      Buffer.from(`--${boundary}\r\n${part.headers}\r\n`, 'latin1'),
      part.body,
      Buffer.from('\r\n', 'latin1'),
    ]);
    chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
    response.writeHead(200, { 'content-type': `multipart/related; ${type}; boundary=${boundary}` });
    response.end(Buffer.concat(chunks));
  };
}

test('searches send one includefield per attribute and match values unencoded', async (t) => {
  const seen = await withServer(json(200, []), async (client) => {
    await client.searchForInstances({
      studyInstanceUid: '1.2.3',
      seriesInstanceUid: '1.2.3.4',
      match: { PatientName: 'Test^Kn*', StudyDate: '20240101-20241231', Note: 'a&b=c d' },
      includeFields: ['00100020', 'ImageLaterality'],
      fuzzyMatching: true,
      limit: 10,
      offset: 5,
    });
  });

  t.is(seen[0]?.method, 'GET');
  t.is(
    seen[0]?.url,
    '/dicom-web/studies/1.2.3/series/1.2.3.4/instances?PatientName=Test^Kn*' +
      '&StudyDate=20240101-20241231&Note=a%26b%3Dc%20d&includefield=00100020' +
      '&includefield=ImageLaterality&fuzzymatching=true&limit=10&offset=5',
  );
  t.is(seen[0]?.headers.accept, 'application/dicom+json');
});

test('search paths follow the resources of PS3.18 10.6.1', async (t) => {
  const seen = await withServer(json(200, []), async (client) => {
    await client.searchForStudies();
    await client.searchForSeries();
    await client.searchForSeries({ studyInstanceUid: '1.2' });
    await client.searchForInstances();
    await client.searchForInstances({ studyInstanceUid: '1.2' });
  });

  t.deepEqual(
    seen.map((request) => request.url),
    [
      '/dicom-web/studies',
      '/dicom-web/series',
      '/dicom-web/studies/1.2/series',
      '/dicom-web/instances',
      '/dicom-web/studies/1.2/instances',
    ],
  );
});

test('204 No Content reads as no match', async (t) => {
  await withServer(
    (_, response) => {
      response.writeHead(204).end();
    },
    async (client) => {
      t.deepEqual(await client.searchForStudies(), []);
    },
  );
});

test('basic credentials are sent when given', async (t) => {
  const seen = await withServer(json(200, []), async (_, url) => {
    const client = new DicomWebClient({ url, username: 'user', password: 'pa:ss' });
    await client.searchForStudies();
  });

  t.is(seen[0]?.headers.authorization, `Basic ${Buffer.from('user:pa:ss').toString('base64')}`);
});

test('retrieveFrames asks for a transfer syntax and reads each part', async (t) => {
  const frames = [Buffer.from([0, 1, 2, 3]), Buffer.from('\r\n--test\r\n', 'latin1')];
  const answer = multipart('type="application/octet-stream"', [
    {
      headers: 'Content-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1\r\n',
      body: frames[0] ?? Buffer.alloc(0),
    },
    {
      headers: 'Content-Type: image/jls; transfer-syntax=1.2.840.10008.1.2.4.80\r\n',
      body: frames[1] ?? Buffer.alloc(0),
    },
  ]);

  const seen = await withServer(answer, async (client) => {
    const got = await client.retrieveFrames(reference, [1, 2], {
      transferSyntax: '1.2.840.10008.1.2.1',
    });
    t.deepEqual(
      got.map((frame) => [frame.mediaType, frame.transferSyntax, Buffer.from(frame.bytes)]),
      [
        ['application/octet-stream', '1.2.840.10008.1.2.1', frames[0]],
        ['image/jls', '1.2.840.10008.1.2.4.80', frames[1]],
      ],
    );
  });

  t.is(seen[0]?.url, '/dicom-web/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5/frames/1,2');
  t.is(
    seen[0]?.headers.accept,
    'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1',
  );
});

test('a frame count other than the one asked for is an invalid response', async (t) => {
  const answer = multipart('type="application/octet-stream"', [
    { headers: '', body: Buffer.from([1, 2]) },
  ]);

  await withServer(answer, async (client) => {
    const error = await errorOf(client.retrieveFrames(reference, [1, 2]));
    t.is(error.code, 'pacs-invalid-response');
    t.true(error.permanent);
    t.is(error.message, 'DICOMweb retrieveFrames: asked for 2 frames, got 1');
  });
});

test('storeInstances posts multipart/related application/dicom and reads the answer', async (t) => {
  const files = [Uint8Array.from([1, 2, 3]), Uint8Array.from([13, 10, 45, 45])];
  const answer = json(202, {
    '00081190': { vr: 'UR', Value: ['http://pacs/studies/1.2.3'] },
    '00081199': {
      vr: 'SQ',
      Value: [
        {
          '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.88.33'] },
          '00081155': { vr: 'UI', Value: ['1.2.3.9'] },
          '00081196': { vr: 'US', Value: [0xb000] },
        },
      ],
    },
    '00081198': {
      vr: 'SQ',
      Value: [
        { '00081155': { vr: 'UI', Value: ['1.2.3.8'] }, '00081197': { vr: 'US', Value: [0xa700] } },
      ],
    },
  });

  const seen = await withServer(answer, async (client) => {
    const response = await client.storeInstances(files, { studyInstanceUid: '1.2.3' });
    t.deepEqual(response, {
      status: 202,
      retrieveUrl: 'http://pacs/studies/1.2.3',
      referenced: [
        {
          sopClassUid: '1.2.840.10008.5.1.4.1.1.88.33',
          sopInstanceUid: '1.2.3.9',
          retrieveUrl: undefined,
          warningReason: 0xb000,
        },
      ],
      failed: [{ sopClassUid: undefined, sopInstanceUid: '1.2.3.8', failureReason: 0xa700 }],
    });
  });

  const request = seen[0];
  t.is(request?.method, 'POST');
  t.is(request?.url, '/dicom-web/studies/1.2.3');
  const contentType = parseMediaType(request?.headers['content-type'] ?? '');
  t.is(contentType.type, 'multipart/related');
  t.is(contentType.parameters.type, 'application/dicom');
  t.regex(request?.headers['content-type'] ?? '', /type="application\/dicom"/);
  const parts = decodeMultipart(
    request?.body ?? Buffer.alloc(0),
    contentType.parameters.boundary ?? '',
  );
  t.deepEqual(
    parts.map((part) => [part.headers['content-type'], [...part.body]]),
    files.map((file) => ['application/dicom', [...file]]),
  );
});

test('a 409 Store answer resolves with its failures; a 409 without one is pacs-rejected', async (t) => {
  const failure = {
    '00081198': {
      vr: 'SQ',
      Value: [
        { '00081155': { vr: 'UI', Value: ['1.2.3.8'] }, '00081197': { vr: 'US', Value: [272] } },
      ],
    },
  };
  await withServer(json(409, failure), async (client) => {
    const response = await client.storeInstances([Uint8Array.from([1, 2])]);
    t.is(response.status, 409);
    t.deepEqual(response.referenced, []);
    t.deepEqual(response.failed, [
      { sopClassUid: undefined, sopInstanceUid: '1.2.3.8', failureReason: 272 },
    ]);
  });

  const plain: Answer = (_, response) => {
    response.writeHead(409, { 'content-type': 'text/plain' }).end('conflict');
  };
  await withServer(plain, async (client) => {
    const error = await errorOf(client.storeInstances([Uint8Array.from([1, 2])]));
    t.is(error.code, 'pacs-rejected');
    t.is(error.message, 'DICOMweb storeInstances: the PACS refused the request with HTTP 409');
  });
});

const statuses: [number, ErrorCode, boolean][] = [
  [500, 'pacs-unavailable', false],
  [502, 'pacs-unavailable', false],
  [503, 'pacs-unavailable', false],
  [408, 'pacs-unavailable', false],
  [429, 'pacs-unavailable', false],
  [400, 'pacs-rejected', true],
  [403, 'pacs-rejected', true],
  [404, 'pacs-rejected', true],
  [415, 'pacs-rejected', true],
];

for (const [status, code, permanent] of statuses) {
  test(`HTTP ${status} is ${code}${permanent ? '' : ' (transient)'}`, async (t) => {
    await withServer(json(status, { secret: 'Test^Knee' }), async (client) => {
      const error = await errorOf(client.searchForStudies({ match: { PatientName: 'Test^Knee' } }));
      t.is(error.code, code);
      t.is(error.permanent, permanent);
      t.regex(error.message, new RegExp(`^DICOMweb searchForStudies: .*HTTP ${status}$`));
      t.false(error.message.includes('Test^Knee'));
    });
  });
}

test('a server that accepts but never answers times out as pacs-unavailable', async (t) => {
  const sockets = new Set<Socket>();
  const silent = createTcpServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  if (address === null || typeof address === 'string') throw new Error('no port');

  try {
    const client = new DicomWebClient({ url: `http://127.0.0.1:${address.port}/`, timeoutMs: 300 });
    const started = Date.now();
    const error = await errorOf(client.searchForStudies({ match: { PatientName: 'Test^Knee' } }));

    t.is(error.code, 'pacs-unavailable');
    t.false(error.permanent);
    t.is(error.status, 504);
    t.is(error.message, 'DICOMweb searchForStudies: the PACS did not answer within 300 ms');
    t.true(Date.now() - started < 5_000);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test('answers of the wrong form are pacs-invalid-response', async (t) => {
  const notJson: Answer = (_, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
  };
  await withServer(notJson, async (client) => {
    const searched = await errorOf(client.searchForStudies());
    const retrieved = await errorOf(client.retrieveInstance(reference));
    t.is(searched.code, 'pacs-invalid-response');
    t.is(searched.message, 'DICOMweb searchForStudies: the answer is not JSON');
    t.is(retrieved.message, 'DICOMweb retrieveInstance: expected multipart/related, got text/html');
  });

  await withServer(json(200, { not: 'a list' }), async (client) => {
    const error = await errorOf(client.searchForSeries());
    t.is(error.message, 'DICOMweb searchForSeries: expected a JSON array of DICOM JSON objects');
  });

  const truncated: Answer = (_, response) => {
    response.writeHead(200, {
      'content-type': 'multipart/related; type="application/dicom"; boundary=b',
    });
    response.end('--b\r\n\r\nno closing delimiter');
  };
  await withServer(truncated, async (client) => {
    const error = await errorOf(client.retrieveInstance(reference));
    t.is(error.message, 'DICOMweb retrieveInstance: the multipart answer cannot be read');
  });
});

test('bad input is refused before anything is sent, without echoing it', async (t) => {
  const seen = await withServer(json(200, []), async (client) => {
    const cases = [
      client.retrieveInstance({ ...reference, sopInstanceUid: '1.2/../../x' }),
      client.retrieveInstance({ ...reference, studyInstanceUid: '1'.repeat(65) }),
      client.retrieveFrames(reference, []),
      client.retrieveFrames(reference, [0]),
      client.retrieveFrames(reference, [1], { transferSyntax: 'jpeg' }),
      client.searchForStudies({ includeFields: ['Patient Name'] }),
      client.searchForStudies({ match: { 'a&b': 'x' } }),
      client.searchForStudies({ limit: -1 }),
      client.searchForInstances({ seriesInstanceUid: '1.2' }),
      client.storeInstances([]),
    ];
    for (const pending of cases) {
      const error = await errorOf(pending);
      t.is(error.code, 'invalid-argument');
      t.false(error.message.includes('../'));
    }
  });

  t.deepEqual(seen, []);
  t.throws(() => new DicomWebClient({ url: 'ftp://pacs/' }), { message: /http or https/ });
  t.throws(() => new DicomWebClient({ url: 'http://u:p@pacs/' }), { message: /credentials/ });
  t.throws(() => new DicomWebClient({ url: 'http://pacs/', username: 'u' }), {
    message: /together/,
  });
  t.throws(() => new DicomWebClient({ url: 'http://pacs/', timeoutMs: 0 }), {
    message: /timeoutMs/,
  });
});
