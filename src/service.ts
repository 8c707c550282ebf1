/**
 * `jointspace serve`: one process that is the PACS node. It wires the parts together and owns
 * their lifetimes, in order of dependency:
 *
 *   database (configured, or a self-started local cluster) → migrations → store
 *   → job queue (pg-boss) → model → worker (and, with a FHIR server, the care worker)
 *   → change poller → HTTP API
 *
 * and stops them in reverse. Several processes may run against one database: the queue
 * hands each job to one of them, and one poller at a time reads Orthanc's change feed.
 */
import { hostname } from 'node:os';
import type { DataSource } from 'typeorm';
import { createApp } from './api/app.js';
import type { ReadinessCheck } from './api/health.js';
import { ServiceMetrics } from './api/metrics.js';
import { listen } from './api/server.js';
import type { ServiceConfig } from './config.js';
import { DicomWebClient } from './dicomweb/client.js';
import { Grader } from './grading/grader.js';
import { LateralityModel } from './grading/laterality.js';
import type { Logger } from './log.js';
import { PostgresCursorStore } from './orthanc/cursor.js';
import { ChangePoller } from './orthanc/poller.js';
import { OrthancRestClient } from './orthanc/rest.js';
import { eligibilityRules } from './pipeline/eligibility.js';
import type { JobQueue } from './pipeline/job.js';
import { StudyProcessor } from './pipeline/process-study.js';
import { StudyQueue } from './pipeline/queue.js';
import { SWEEP_INTERVAL_MS, sweepAbandonedStudies, Worker } from './pipeline/worker.js';
import { CarePlanner } from './pipeline/care-plan.js';
import { CareWorker } from './pipeline/care-worker.js';
import { careRules } from './care/rules.js';
import { FhirClient } from './fhir/client.js';
import type { FhirSettings } from './fhir/settings.js';
import type { AlgorithmIdentity } from './sr/dataset.js';
import { CarePlanResults, CarePlanStore } from './store/care-plans.js';
import { cdsHandlers } from './cds/service.js';
import { createDataSource, migrate } from './store/data-source.js';
import { databaseFromEnvironment, type Database } from './store/local-postgres.js';
import { Store } from './store/repository.js';
import { Worklist } from './store/worklist.js';
import { defaultModelDirectory } from './grading/model.js';

export interface RunningService {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  /** Where a self-started database keeps its data; absent for a configured one. */
  dataDir?: string;
  /** Stops everything, newest first; safe to call twice. */
  close(): Promise<void>;
}

export async function startService(config: ServiceConfig, logger: Logger): Promise<RunningService> {
  const stops: (() => Promise<void>)[] = [];
  const close = async () => {
    while (stops.length > 0) {
      const stop = stops.pop();
      try {
        await stop?.();
      } catch (error) {
        logger.warn('service.stop-failed', { message: String(error) });
      }
    }
  };

  try {
    const database = await openDatabase(config, logger);
    stops.push(() => database.stop());

    const dataSource = createDataSource({ url: database.url });
    await dataSource.initialize();
    stops.push(() => dataSource.destroy());
    const ran = await migrate(dataSource);
    if (ran.length > 0) logger.info('database.migrated', { migrations: ran });
    const store = new Store(dataSource);
    const carePlans = new CarePlanStore(dataSource, config.patientKeySecret);

    // Created before the queue, so they are released after it: stopping the queue waits for
    // running jobs, which still need the models.
    const grader = await Grader.create({
      device: config.device,
      precision: config.precision,
      logger,
      ...(config.modelDir === undefined ? {} : { directory: config.modelDir }),
    });
    stops.push(() => grader.close());
    const laterality = await LateralityModel.load(config.modelDir);
    stops.push(() => laterality.release());

    const queue = await StudyQueue.start({
      databaseUrl: database.url,
      retryLimit: config.retryLimit,
      retryDelaySeconds: config.retryDelaySeconds,
      jobTimeoutSeconds: config.jobTimeoutSeconds,
      careRetryLimit: config.careRetryLimit,
      careRetryDelaySeconds: config.careRetryDelaySeconds,
      logger: logger.child({ component: 'queue' }),
    });
    stops.push(() => queue.stop());

    // Every intake path records the study before queueing it, so the API answers `received`
    // for a study that waits, instead of 404.
    const intake: JobQueue = {
      enqueue: async (job) => {
        await store.upsertStudy(job.studyInstanceUid);
        return queue.enqueue(job);
      },
      depth: () => queue.depth(),
    };
    const metrics = new ServiceMetrics();
    metrics.setQueueDepthSource(() => queue.depth());

    const orthancCredentials =
      config.orthanc.username === undefined || config.orthanc.password === undefined
        ? {}
        : { username: config.orthanc.username, password: config.orthanc.password };
    const dicomweb = new DicomWebClient({
      url: config.orthanc.dicomWebUrl,
      ...orthancCredentials,
      logger: logger.child({ component: 'dicomweb' }),
    });
    const orthanc = new OrthancRestClient({ url: config.orthanc.url, ...orthancCredentials });

    const processor = new StudyProcessor({
      dicomweb,
      store,
      grader,
      laterality,
      rules: eligibilityRules(),
      patientKeySecret: config.patientKeySecret,
      logger: logger.child({ component: 'pipeline' }),
      observer: metrics,
      destination: config.orthanc.dicomWebUrl,
      progression: {
        dicomweb,
        database: (uid, before) => carePlans.earlierResults(uid, before),
      },
    });
    const careWorker =
      config.fhir === undefined
        ? undefined
        : careWorkerFor(config.fhir, {
            queue,
            store,
            carePlans,
            dicomweb,
            algorithm: processor.algorithm,
            logger,
          });
    const worker = new Worker({
      queue,
      processor,
      store,
      logger: logger.child({ component: 'worker' }),
      observer: metrics,
      concurrency: config.workerConcurrency,
      workerId: `${hostname()}:${process.pid}`,
      ...(careWorker === undefined
        ? {}
        : { afterGraded: (uid: string) => careWorker.studyGraded(uid) }),
    });
    await worker.start();
    // Studies a dead worker left `processing` (also from before this process started).
    const sweepLogger = logger.child({ component: 'sweep' });
    await sweepAbandonedStudies(store, sweepLogger);
    const sweep = setInterval(
      () => void sweepAbandonedStudies(store, sweepLogger),
      SWEEP_INTERVAL_MS,
    );
    sweep.unref();
    stops.push(() => {
      clearInterval(sweep);
      return Promise.resolve();
    });
    // A process that grades nothing (concurrency 0: API only) writes no care plans either.
    if (careWorker !== undefined && config.workerConcurrency > 0) await careWorker.start();

    if (config.pollIntervalMs > 0) {
      const poller = new ChangePoller({
        orthanc,
        cursor: new PostgresCursorStore(dataSource),
        dataSource,
        intervalMs: config.pollIntervalMs,
        start: config.pollStart,
        logger: logger.child({ component: 'poller' }),
        onStableStudy: async (event) => {
          metrics.intake('poll');
          await intake.enqueue({
            studyInstanceUid: event.studyInstanceUid,
            source: 'poll',
            force: false,
            orthancStudyId: event.orthancStudyId,
          });
        },
      });
      poller.start();
      stops.push(() => poller.stop());
    }

    const app = createApp({
      apiTokens: config.apiTokens,
      webhookSecret: config.webhookSecret,
      store,
      queue: intake,
      carePlans,
      ...(config.cds === undefined
        ? {}
        : {
            cds: cdsHandlers({
              settings: config.cds,
              results: new CarePlanResults(carePlans),
              logger: logger.child({ component: 'cds' }),
            }),
          }),
      readiness: readinessChecks(dataSource, orthanc, grader),
      metrics,
      logger: logger.child({ component: 'api' }),
      console: {
        worklist: new Worklist(dataSource),
        pacs: dicomweb,
        modelDirectory: config.modelDir ?? defaultModelDirectory(),
        precision: grader.model.precision,
      },
    });
    const server = await listen(app, config.host, config.port);
    stops.push(() => server.close());

    logger.info('service.started', {
      url: server.url,
      workers: config.workerConcurrency,
      polling: config.pollIntervalMs > 0 ? `${config.pollIntervalMs} ms` : 'off',
      model: grader.model.id,
      precision: grader.model.precision,
      ...(database.dataDir === undefined ? {} : { dataDir: database.dataDir }),
    });
    return {
      url: server.url,
      ...(database.dataDir === undefined ? {} : { dataDir: database.dataDir }),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The care planner and its worker, for a service with a FHIR server configured. */
function careWorkerFor(
  settings: FhirSettings,
  parts: {
    queue: StudyQueue;
    store: Store;
    carePlans: CarePlanStore;
    dicomweb: DicomWebClient;
    algorithm: AlgorithmIdentity;
    logger: Logger;
  },
): CareWorker {
  const logger = parts.logger.child({ component: 'care' });
  const planner = new CarePlanner({
    fhir: new FhirClient(settings, { logger }),
    dicomweb: parts.dicomweb,
    store: parts.store,
    carePlans: parts.carePlans,
    rules: careRules(),
    algorithm: parts.algorithm,
    destination: settings.url,
    logger,
  });
  return new CareWorker({
    queue: parts.queue,
    planner,
    store: parts.store,
    carePlans: parts.carePlans,
    logger,
    workerId: `${hostname()}:${process.pid}`,
  });
}

async function openDatabase(config: ServiceConfig, logger: Logger): Promise<Database> {
  const env: NodeJS.ProcessEnv = {
    ...(config.databaseUrl === undefined ? {} : { JOINTSPACE_DATABASE_URL: config.databaseUrl }),
    ...(config.dataDir === undefined ? {} : { JOINTSPACE_DATA_DIR: config.dataDir }),
  };
  return databaseFromEnvironment(env, logger.child({ component: 'local-postgres' }));
}

function readinessChecks(
  dataSource: DataSource,
  orthanc: OrthancRestClient,
  grader: Grader,
): ReadinessCheck[] {
  return [
    {
      name: 'database',
      check: async () => {
        await dataSource.query('SELECT 1');
      },
    },
    {
      name: 'orthanc',
      check: async () => {
        await orthanc.system();
      },
    },
    {
      name: 'model',
      // One inference on a blank input (a few milliseconds): proves the session still runs.
      check: async () => {
        const size = grader.model.manifest.input.size;
        await grader.model.run([new Float32Array(size * size)]);
      },
    },
  ];
}
