/**
 * The typeorm data source of jointspace's records. The schema only changes through the
 * migrations listed here, run on purpose by `migrate`; `synchronize` stays off.
 */
import { DataSource } from 'typeorm';
import { entities } from './entities.js';
import { InitialSchema1764806400000 } from './migrations/1764806400000-initial-schema.js';
import { IntakeCursor1764900000000 } from './migrations/1764900000000-intake-cursor.js';
import { StudyRuns1764990000000 } from './migrations/1764990000000-study-runs.js';
import { CarePlans1765100000000 } from './migrations/1765100000000-care-plans.js';
import { KneeMeasurements1765200000000 } from './migrations/1765200000000-knee-measurements.js';

/** In order; append new migrations, never edit one that has shipped. */
export const migrations = [
  InitialSchema1764806400000,
  IntakeCursor1764900000000,
  StudyRuns1764990000000,
  CarePlans1765100000000,
  KneeMeasurements1765200000000,
];

/** Kept apart from pg-boss, which will own its own schema in the same database. */
export const MIGRATIONS_TABLE = 'jointspace_migrations';

export interface DataSourceOptions {
  /** `postgres://user:password@host:port/database`. */
  url: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

/** A data source for `url`, not yet initialised: call `initialize()` before use. */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    entities,
    migrations,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsRun: false,
    synchronize: false,
    logging: false,
    poolSize: options.poolSize ?? 10,
  });
}

/** Runs the pending migrations, each in its own transaction; returns the names it ran. */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const ran = await dataSource.runMigrations({ transaction: 'each' });
  return ran.map((migration) => migration.name);
}
