/**
 * The setup of the tests that send studies the way a hospital's PACS does: a real Orthanc
 * with the DICOMweb plugin and the shipped push script pointed at `jointspace serve`, a real
 * PostgreSQL, and the service as its own process with polling off, so the push is the only
 * way in. Started before the file's tests, stopped after them; the service's log is attached
 * to a failed test.
 */
import type { TestFn } from 'ava';
import { PUSH_SCRIPT_PATH } from '../../src/orthanc/push-script.js';
import { freePort, useOrthanc, type Orthanc } from './orthanc.js';
import { usePostgres, type TestDatabase } from './postgres.js';
import { TEST_WEBHOOK_SECRET, startService, type ServiceProcess } from './service.js';

export interface PushedService {
  orthanc: () => Promise<Orthanc>;
  database: () => Promise<TestDatabase>;
  /** The running service (throws before `test.before` has started it). */
  service: () => ServiceProcess;
}

export interface PushedServiceOptions {
  /**
   * Runs in `test.before`, once Orthanc and PostgreSQL run and before the service starts (to
   * start and seed other servers); returns extra JOINTSPACE_* variables for the service.
   */
  beforeStart?: () => Promise<Record<string, string>> | Record<string, string>;
}

export async function usePushedService(
  test: TestFn,
  options: PushedServiceOptions = {},
): Promise<PushedService> {
  const port = await freePort();
  const orthanc = useOrthanc(test, {
    stableAgeSeconds: 1,
    luaScriptFiles: [PUSH_SCRIPT_PATH],
    configuration: {
      Jointspace: { Url: `http://127.0.0.1:${port}`, WebhookSecret: TEST_WEBHOOK_SECRET },
    },
  });
  const database = usePostgres(test);
  let running: ServiceProcess | undefined;

  test.before(async () => {
    const [server, db] = await Promise.all([orthanc(), database()]);
    running = await startService({
      orthancUrl: server.url,
      databaseUrl: db.url,
      port,
      env: (await options.beforeStart?.()) ?? {},
    });
  });

  test.after.always(async () => {
    await running?.stop();
  });

  test.afterEach.always((t) => {
    if (!t.passed && running !== undefined) t.log(running.output().slice(-6000));
  });

  return {
    orthanc,
    database,
    service: () => {
      if (running === undefined) throw new Error('service not started');
      return running;
    },
  };
}
