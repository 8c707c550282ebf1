/**
 * `jointspace serve`: reads the configuration from JOINTSPACE_* variables, starts the service,
 * and stops it cleanly on SIGINT or SIGTERM. Resolves with the exit status once stopped.
 */
import { loadConfig } from '../config.js';
import { JointspaceError, errorMessage } from '../errors.js';
import { createLogger } from '../log.js';
import { startService } from '../service.js';

export async function runServe(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof JointspaceError && error.code === 'invalid-configuration') {
      process.stderr.write(`jointspace serve: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const logger = createLogger({ component: 'service' }, config.logLevel);

  let service;
  try {
    service = await startService(config, logger);
  } catch (error) {
    logger.error('service.start-failed', { message: errorMessage(error) });
    return 1;
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info('service.stopping', { signal });
  await service.close();
  logger.info('service.stopped');
  return 0;
}
