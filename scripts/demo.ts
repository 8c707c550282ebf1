/**
 * `npm run demo` (`node --import tsx scripts/demo.ts`): the whole node on one machine, on
 * 127.0.0.1 only, in temporary folders:
 *
 *   PostgreSQL (a private cluster) · Orthanc with DICOMweb and the push script · a FHIR R4
 *   server (Medplum's engine in memory) seeded with synthetic patients · `jointspace serve` ·
 *   the OHIF viewer with a /dicom-web proxy to Orthanc
 *
 * then sends a few knee studies made from val crops, waits for their grades and care plans
 * with a progress display, prints a summary and the URLs to open, and runs until Ctrl-C, which
 * stops everything and removes the temporary folders. `--exit-after-summary` stops right after
 * the summary (for tests). The servers are the test helpers' (test/helpers/), so the demo runs
 * exactly what the tests run.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { PUSH_SCRIPT_PATH } from '../src/orthanc/push-script.js';
import { startLocalPostgres } from '../src/store/local-postgres.js';
import { startFhirServer } from '../test/helpers/fhir-server.js';
import { ohifDist, startOhifServer, type OhifServer } from '../test/helpers/ohif.js';
import { freePort, startOrthanc } from '../test/helpers/orthanc.js';
import { kneeVal, repoRoot } from '../test/helpers/paths.js';
import { quietLogger, temporaryClusterFolder } from '../test/helpers/postgres.js';
import { startService } from '../test/helpers/service.js';
import { DEMO_PATIENTS, DEMO_STUDIES, type PlannedStudy } from './demo/patients.js';
import { ensurePrerequisites } from './demo/prerequisites.js';
import {
  Progress,
  describe,
  isFinal,
  summaryTable,
  type StudyBody,
  type StudyRow,
} from './demo/report.js';
import {
  bilateralImage,
  dxStudy,
  singleKneeImage,
  valCrop,
  type DemoStudy,
} from './demo/studies.js';

const USAGE = `Usage: npm run demo [-- --exit-after-summary]

Starts PostgreSQL, Orthanc, a FHIR server with synthetic patients, jointspace and the OHIF
viewer on 127.0.0.1, sends a few knee studies, waits for their grades and care plans, prints a
summary and the URLs to open, and runs until Ctrl-C.

  --exit-after-summary   stop everything once the summary is printed
  --help                 this text
`;

/** Grading on a busy CPU, care plans after: generous. */
const WAIT_LIMIT_MS = 15 * 60_000;
const POLL_MS = 500;

class Stopped extends Error {
  constructor() {
    super('stopped');
  }
}

/**
 * What was started, stopped newest first, once; a part started while stopping is stopped at
 * once. The abort signal ends the waits of the main flow.
 */
class Lifetime {
  private readonly stops: { name: string; stop: () => Promise<void> }[] = [];
  private closing: Promise<void> | undefined;
  readonly controller = new AbortController();

  /** Whether anything was started (and so will be stopped). */
  get started(): boolean {
    return this.stops.length > 0;
  }

  get stopping(): boolean {
    return this.closing !== undefined;
  }

  async add(name: string, stop: () => Promise<void>): Promise<void> {
    if (this.closing !== undefined) {
      await stop();
      throw new Stopped();
    }
    this.stops.push({ name, stop });
  }

  check(): void {
    if (this.closing !== undefined) throw new Stopped();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.controller.abort();
      while (this.stops.length > 0) {
        const part = this.stops.pop();
        if (part === undefined) break;
        try {
          await part.stop();
          say(`  stopped ${part.name}`);
        } catch (error) {
          say(`  could not stop ${part.name} cleanly: ${String(error)}`);
        }
      }
    })();
    return this.closing;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.controller.signal;
      if (signal.aborted) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

function isoDate(dicomDate: string): string {
  return `${dicomDate.slice(0, 4)}-${dicomDate.slice(4, 6)}-${dicomDate.slice(6)}`;
}

function shows(planned: PlannedStudy): string {
  if (planned.knees.length > 1) return 'both knees';
  return planned.knees[0]?.side === 'R' ? 'right knee' : 'left knee';
}

async function makeStudy(planned: PlannedStudy): Promise<DemoStudy> {
  const crops = await Promise.all(
    planned.knees.map((knee) => valCrop(kneeVal, knee.grade, knee.side)),
  );
  const [first, second] = crops;
  if (first === undefined) throw new Error('a planned study without knees');
  const side = planned.knees[0]?.side ?? 'R';
  const image =
    second === undefined ? await singleKneeImage(first, side) : await bilateralImage(first, second);
  return dxStudy(planned.patient, planned.studyDate, planned.accession, image);
}

async function main(lifetime: Lifetime, exitAfterSummary: boolean): Promise<number> {
  say('jointspace demo: everything on 127.0.0.1, synthetic patients only.');
  say();
  say('Checking prerequisites…');
  const prerequisites = await ensurePrerequisites(repoRoot);
  for (const line of prerequisites.lines) say(line);
  if (!prerequisites.ok) return 1;
  if (!existsSync(kneeVal)) {
    say(`The val images are missing: expected them in ${kneeVal}.`);
    return 1;
  }

  say(`Making ${DEMO_STUDIES.length} knee studies from val crops…`);
  const studies = await Promise.all(DEMO_STUDIES.map((planned) => makeStudy(planned)));
  lifetime.check();

  const apiToken = `demo-${randomBytes(18).toString('base64url')}`;
  const webhookSecret = randomBytes(24).toString('hex');
  const patientKeySecret = randomBytes(24).toString('hex');

  say('Starting the servers…');
  const folder = await temporaryClusterFolder();
  const removeFolder = () => rmSync(dirname(folder.dataDir), { recursive: true, force: true });
  process.once('exit', removeFolder);
  await lifetime.add('PostgreSQL data folder', async () => {
    await folder.dispose();
    process.removeListener('exit', removeFolder);
  });
  const postgres = await startLocalPostgres({ dataDir: folder.dataDir, logger: quietLogger });
  await lifetime.add('PostgreSQL', () => postgres.stop());
  say(`  PostgreSQL   127.0.0.1:${postgres.port} (data in ${dirname(folder.dataDir)})`);

  const servicePort = await freePort();
  const orthanc = await startOrthanc({
    stableAgeSeconds: 1,
    luaScriptFiles: [PUSH_SCRIPT_PATH],
    configuration: {
      Name: 'jointspace-demo',
      Jointspace: { Url: `http://127.0.0.1:${servicePort}`, WebhookSecret: webhookSecret },
    },
  });
  await lifetime.add('Orthanc', () => orthanc.dispose());
  say(`  Orthanc      ${orthanc.url} (data in ${orthanc.dir})`);

  const fhir = await startFhirServer();
  await lifetime.add('FHIR server', () => fhir.dispose());
  for (const patient of DEMO_PATIENTS) await fhir.seed(patient.records);
  say(`  FHIR R4      ${fhir.url} (${DEMO_PATIENTS.length} synthetic patients)`);

  const service = await startService({
    orthancUrl: orthanc.url,
    databaseUrl: postgres.url,
    port: servicePort,
    env: {
      JOINTSPACE_API_TOKENS: apiToken,
      JOINTSPACE_WEBHOOK_SECRET: webhookSecret,
      JOINTSPACE_PATIENT_KEY_SECRET: patientKeySecret,
      JOINTSPACE_POLL_INTERVAL_MS: '5000',
      JOINTSPACE_FHIR_URL: fhir.url,
      JOINTSPACE_CDS_AUTH: 'none',
      JOINTSPACE_CARE_RETRY_DELAY_S: '2',
    },
  });
  await lifetime.add('jointspace serve', () => service.stop());
  say(`  jointspace   ${service.url} (pid ${service.pid()})`);

  let ohif: OhifServer | undefined;
  say('  OHIF         preparing (fetched once into .cache/ohif/ when missing, about 50 MB)…');
  try {
    const dist = await ohifDist();
    lifetime.check();
    const viewer = await startOhifServer({ dist, dicomWebUrl: orthanc.dicomWebUrl });
    ohif = viewer;
    await lifetime.add('OHIF viewer', () => viewer.close());
    say(`  OHIF         ${viewer.url}/`);
  } catch (error) {
    if (error instanceof Stopped) throw error;
    say(`  OHIF         not started: ${error instanceof Error ? error.message : String(error)}`);
  }
  lifetime.check();

  const serviceRunning = () => {
    try {
      service.pid();
      return true;
    } catch {
      return false;
    }
  };
  const api = async (path: string): Promise<Response> =>
    fetch(new URL(path, service.url), {
      headers: { authorization: `Bearer ${apiToken}` },
      signal: AbortSignal.timeout(10_000),
    });

  const rows: StudyRow[] = DEMO_STUDIES.map((planned, index) => ({
    number: index + 1,
    patient: planned.patient.label,
    studyDate: isoDate(planned.studyDate),
    shows: shows(planned),
    studyInstanceUid: studies[index]?.studyInstanceUid ?? '',
    state: planned.after === undefined ? 'to send' : 'waits for the earlier study',
    done: false,
  }));
  const sent = new Set<number>();

  const send = async (index: number) => {
    const study = studies[index];
    const row = rows[index];
    if (study === undefined || row === undefined) return;
    sent.add(index);
    row.state = 'sending to Orthanc…';
    for (const file of study.files) await orthanc.uploadInstance(file);
    row.state = 'in Orthanc, waiting until the study is stable';
  };
  const ready = (planned: PlannedStudy) => {
    const before = planned.after === undefined ? -1 : DEMO_STUDIES.indexOf(planned.after);
    return before < 0 || rows[before]?.done === true;
  };

  say();
  say(`Sending ${DEMO_STUDIES.length} studies and waiting for grades and care plans:`);
  const progress = new Progress(rows);
  const deadline = Date.now() + WAIT_LIMIT_MS;
  let timedOut = false;
  for (;;) {
    lifetime.check();
    if (!serviceRunning()) {
      // jointspace logs no patient data, so its last lines may be shown.
      throw new Error(
        `jointspace serve exited; its last log lines:\n${service.output().slice(-3000)}`,
      );
    }
    for (const [index, planned] of DEMO_STUDIES.entries()) {
      if (!sent.has(index) && ready(planned)) await send(index);
    }
    for (const [index, row] of rows.entries()) {
      if (!sent.has(index) || row.done) continue;
      try {
        const response = await api(`api/studies/${row.studyInstanceUid}`);
        if (response.status === 200) {
          const body = (await response.json()) as StudyBody;
          row.body = body;
          row.state = describe(body);
          row.done = isFinal(body);
        } else {
          await response.body?.cancel();
        }
      } catch {
        // A busy machine may drop a request now and then; the next round asks again.
      }
    }
    progress.render();
    if (rows.every((row) => row.done)) break;
    if (Date.now() > deadline) {
      timedOut = true;
      break;
    }
    await lifetime.sleep(POLL_MS);
  }
  lifetime.check();

  say();
  say(
    timedOut
      ? `Summary (not everything finished within ${WAIT_LIMIT_MS / 60_000} minutes):`
      : 'Summary:',
  );
  say(summaryTable(rows));
  say();
  say('Open:');
  say(`  Operator console  ${service.url}console/`);
  say(`     API token      ${apiToken}`);
  if (ohif !== undefined) {
    say(`  OHIF study list   ${ohif.url}/`);
    const followUp = rows.at(-1)?.studyInstanceUid ?? '';
    say(`     one study      ${ohif.url}/viewer?StudyInstanceUIDs=${followUp}`);
  }
  say(`  FHIR base         ${fhir.url}`);
  say(`     care plans     ${fhir.url}CarePlan`);
  say(`  API               ${service.url}api/studies/<Study Instance UID> (Bearer token above)`);
  say(`     OpenAPI        ${service.url}api/openapi.json`);
  say(`  Orthanc           ${orthanc.url}app/explorer.html`);
  say();
  const code = timedOut ? 1 : 0;
  if (exitAfterSummary) return code;

  say('Running. Press Ctrl-C to stop everything.');
  await new Promise<void>((resolve) => {
    lifetime.controller.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  return code;
}

async function run(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const unknown = args.filter((arg) => arg !== '--exit-after-summary');
  if (unknown.length > 0) {
    process.stderr.write(`Unknown argument: ${unknown.join(' ')}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }

  const lifetime = new Lifetime();
  // A terminal's Ctrl-C reaches the demo and npm, which passes it on: one press may arrive
  // twice. Repeats within a moment count once; later ones first warn, then kill at once.
  let firstSignalAt = 0;
  let repeats = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt === 0) {
      firstSignalAt = Date.now();
      say();
      say(`${signal}: stopping everything…`);
      process.exitCode = signal === 'SIGINT' ? 130 : signal === 'SIGHUP' ? 129 : 143;
      void lifetime.close();
      return;
    }
    if (Date.now() - firstSignalAt < 2_000) return;
    repeats++;
    if (repeats === 1) {
      say('Still stopping; send the signal once more to kill everything at once.');
    } else {
      // The helpers' exit handlers kill their children and remove their folders.
      process.exit(1);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A closed terminal: stop cleanly too; writes to it fail from now on, and are dropped.
  process.on('SIGHUP', onSignal);
  process.stdout.on('error', () => undefined);

  let code = 1;
  try {
    code = await main(lifetime, args.includes('--exit-after-summary'));
  } catch (error) {
    if (!(error instanceof Stopped)) {
      say();
      say(`The demo failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const signalled = lifetime.stopping;
  const started = lifetime.started;
  if (!signalled && started) say('Stopping everything…');
  await lifetime.close();
  if (started || signalled) say('Stopped; temporary folders removed.');
  process.exit(signalled ? (typeof process.exitCode === 'number' ? process.exitCode : 130) : code);
}

await run();
