/**
 * The pull side of intake and the safety net of the push script: reads Orthanc's change log
 * (`GET /changes`) from a stored cursor and hands every `StableStudy` change on.
 *
 * What must stay true:
 * - The cursor moves past a change only once `onStableStudy` has resolved for it and for
 *   every change before it. A crash therefore re-delivers rather than loses; the job queue is
 *   idempotent per study, so duplicates are harmless.
 * - Processes that share one database poll one at a time: each poll holds a PostgreSQL
 *   session advisory lock on a connection of its own, and a tick that finds the lock taken is
 *   skipped.
 * - An unreachable Orthanc is reported once per outage (warn) and once when it is back
 *   (info); the cursor is kept and the next tick tries again.
 *
 * Logged are Orthanc ids, seq numbers and counts; StudyInstanceUIDs and anything else read
 * from a study are not logged at any level.
 */
import type { DataSource, QueryRunner } from 'typeorm';
import { JointspaceError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { CursorStore } from './cursor.js';
import { STABLE_STUDY, type Change, type ChangesPage, type OrthancRestClient } from './rest.js';

export interface StableStudyEvent {
  orthancStudyId: string;
  studyInstanceUid: string;
}

export interface ChangePollerOptions {
  orthanc: OrthancRestClient;
  cursor: CursorStore;
  /** The database whose advisory lock keeps pollers apart; without it, no lock is taken. */
  dataSource?: DataSource;
  /** Pause between the end of one poll and the start of the next. */
  intervalMs: number;
  /**
   * Where a first run (no stored cursor) starts: `now` skips the changes Orthanc already
   * holds, `beginning` reads them all.
   */
  start: 'now' | 'beginning';
  onStableStudy(event: StableStudyEvent): Promise<void>;
  logger: Logger;
  /** Changes asked for per request (default 100). */
  batchSize?: number;
  /** The cursor's name in the store (default `orthanc-changes`). */
  cursorName?: string;
}

export interface PollResult {
  /**
   * `polled`: read to the end of the change log; `locked`: another process was polling, so
   * nothing was read; `unavailable`: Orthanc did not answer, the cursor keeps what was
   * handled before.
   */
  outcome: 'polled' | 'locked' | 'unavailable';
  /** Changes read. */
  seen: number;
  /** Stable studies handed to `onStableStudy`. */
  stableStudies: number;
}

export const DEFAULT_CURSOR_NAME = 'orthanc-changes';
/** The advisory lock's key: the ASCII bytes of "jsintake" read as a 64-bit integer. */
export const INTAKE_LOCK_KEY = '7670590513461947237';

const DEFAULT_BATCH_SIZE = 100;
const MAX_BATCH_SIZE = 10_000;

/** A pacs-unavailable error from an Orthanc call, told apart from the callback's errors. */
class OrthancUnreachable extends Error {
  constructor(readonly error: JointspaceError) {
    super(error.message, { cause: error });
  }
}

interface Counts {
  seen: number;
  stableStudies: number;
}

export class ChangePoller {
  private readonly options: ChangePollerOptions;
  private readonly batchSize: number;
  private readonly cursorName: string;
  private readonly logger: Logger;

  /** The last poll asked for; settles, never rejects. */
  private current: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private running = false;

  private outageSince: number | undefined;
  private lastFailure: string | undefined;
  private behindCursor = false;

  constructor(options: ChangePollerOptions) {
    if (!Number.isSafeInteger(options.intervalMs) || options.intervalMs <= 0) {
      throw invalidArgument('intervalMs must be a positive whole number of milliseconds');
    }
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
      throw invalidArgument(`batchSize must be a whole number from 1 to ${MAX_BATCH_SIZE}`);
    }
    const cursorName = options.cursorName ?? DEFAULT_CURSOR_NAME;
    if (cursorName === '') throw invalidArgument('cursorName must not be empty');

    this.options = options;
    this.batchSize = batchSize;
    this.cursorName = cursorName;
    this.logger = options.logger;
  }

  /** Polls now, then `intervalMs` after the end of each poll, until `stop()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops the ticks and waits for a poll that is running. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.current;
  }

  /**
   * One poll: reads the change log from the stored cursor to its end. Resolves with outcome
   * `unavailable` when Orthanc does not answer; rejects when `onStableStudy`, the database or
   * an answer of Orthanc fails otherwise, having stored the progress made until then.
   * Calls on one poller run one after the other.
   */
  pollOnce(): Promise<PollResult> {
    const poll = this.current.then(() => this.poll());
    this.current = poll.catch(() => undefined);
    return poll;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.ticking = this.tick();
    }, delayMs);
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.pollOnce();
      if (result.outcome === 'polled') this.recovered();
    } catch (error) {
      this.failed(error);
    }
    if (this.running) this.schedule(this.options.intervalMs);
  }

  private async poll(): Promise<PollResult> {
    const unlock = await this.lock();
    if (unlock === undefined) {
      this.logger.debug('orthanc.poll-skipped', { reason: 'another process is polling' });
      return { outcome: 'locked', seen: 0, stableStudies: 0 };
    }
    try {
      return await this.readChanges();
    } finally {
      await unlock();
    }
  }

  private async readChanges(): Promise<PollResult> {
    const counts: Counts = { seen: 0, stableStudies: 0 };
    try {
      let cursor = await this.startingSeq();
      for (;;) {
        const page = await this.ask(this.options.orthanc.changes(cursor, this.batchSize));
        this.checkBehind(page, cursor);
        if (page.changes.length === 0) break;

        cursor = await this.handle(page.changes, cursor, counts);
        if (page.done) break;
      }

      this.available();
      if (counts.stableStudies > 0) {
        this.logger.info('orthanc.changes-polled', { ...counts, cursor });
      } else if (counts.seen > 0) {
        this.logger.debug('orthanc.changes-polled', { ...counts, cursor });
      }
      return { outcome: 'polled', ...counts };
    } catch (error) {
      if (!(error instanceof OrthancUnreachable)) throw error;
      this.unavailable(error.error);
      return { outcome: 'unavailable', ...counts };
    }
  }

  /** The stored cursor; on a first run, creates it where `start` says. */
  private async startingSeq(): Promise<number> {
    const stored = await this.options.cursor.get(this.cursorName);
    if (stored !== undefined) return stored;

    if (this.options.start === 'beginning') {
      const seq = await this.options.cursor.set(this.cursorName, 0);
      this.logger.info('orthanc.cursor-created', {
        cursorName: this.cursorName,
        start: 'beginning',
        seq,
      });
      return seq;
    }

    const last = await this.ask(this.options.orthanc.lastChange());
    const seq = await this.options.cursor.set(this.cursorName, last);
    this.logger.info('orthanc.cursor-created', {
      cursorName: this.cursorName,
      start: 'now',
      seq,
      note: `changes up to seq ${seq}, which Orthanc held before, are not processed`,
    });
    return seq;
  }

  /**
   * Hands on the stable studies among `changes` in order; stores the seq of the last change
   * handled, also when a later one fails. Resolves with that seq.
   */
  private async handle(changes: Change[], cursor: number, counts: Counts): Promise<number> {
    let handled = cursor;
    try {
      for (const change of changes) {
        if (change.seq <= handled) {
          throw new JointspaceError(
            'pacs-invalid-response',
            `Orthanc REST changes: seq ${change.seq} follows ${handled}; the log must increase`,
            { status: 502 },
          );
        }
        counts.seen += 1;
        if (change.changeType === STABLE_STUDY && (await this.deliver(change))) {
          counts.stableStudies += 1;
        }
        handled = change.seq;
      }
    } finally {
      if (handled > cursor) await this.options.cursor.set(this.cursorName, handled);
    }
    return handled;
  }

  /** False when the study was deleted since the change was logged. */
  private async deliver(change: Change): Promise<boolean> {
    const studyInstanceUid = await this.ask(this.options.orthanc.studyInstanceUid(change.id));
    if (studyInstanceUid === undefined) {
      this.logger.debug('orthanc.stable-study-gone', {
        orthancStudyId: change.id,
        seq: change.seq,
      });
      return false;
    }

    await this.options.onStableStudy({ orthancStudyId: change.id, studyInstanceUid });
    this.logger.debug('orthanc.stable-study', { orthancStudyId: change.id, seq: change.seq });
    return true;
  }

  /** `call`, with Orthanc's unavailability marked so the poll reports it instead of failing. */
  private async ask<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      if (error instanceof JointspaceError && error.code === 'pacs-unavailable') {
        throw new OrthancUnreachable(error);
      }
      throw error;
    }
  }

  /**
   * An empty page ends at Orthanc's last seq. Below the cursor, Orthanc's database was
   * replaced or its change log cleared: nothing is read until its seq passes the cursor again.
   * Said once, as moving the cursor back is the operator's decision.
   */
  private checkBehind(page: ChangesPage, cursor: number): void {
    const behind = page.changes.length === 0 && page.last < cursor;
    if (behind && !this.behindCursor) {
      this.logger.error('orthanc.changes-behind-cursor', {
        cursorName: this.cursorName,
        cursor,
        orthancLast: page.last,
        note: 'Orthanc holds no change up to the cursor (database replaced?); see README.md',
      });
    }
    this.behindCursor = behind;
  }

  private unavailable(error: JointspaceError): void {
    if (this.outageSince !== undefined) {
      this.logger.debug('orthanc.still-unavailable', { message: error.message });
      return;
    }
    this.outageSince = Date.now();
    this.logger.warn('orthanc.unavailable', {
      message: error.message,
      note: 'the cursor is kept; the next poll tries again',
    });
  }

  private available(): void {
    if (this.outageSince === undefined) return;
    this.logger.info('orthanc.available-again', {
      unavailableForMs: Date.now() - this.outageSince,
    });
    this.outageSince = undefined;
  }

  /** A failed tick is logged once per run of identical failures. */
  private failed(error: unknown): void {
    const message = errorMessage(error);
    const code = error instanceof JointspaceError ? error.code : undefined;
    if (message === this.lastFailure) {
      this.logger.debug('orthanc.poll-failed', { code, message });
      return;
    }
    this.lastFailure = message;
    this.logger.error('orthanc.poll-failed', {
      code,
      message,
      note: `retried every ${this.options.intervalMs} ms; logged again when the failure changes`,
    });
  }

  private recovered(): void {
    if (this.lastFailure === undefined) return;
    this.lastFailure = undefined;
    this.logger.info('orthanc.poll-recovered');
  }

  /**
   * Takes the advisory lock on a connection of its own; resolves with the function that
   * releases it, or undefined when another session holds it.
   */
  private async lock(): Promise<(() => Promise<void>) | undefined> {
    const dataSource = this.options.dataSource;
    if (dataSource === undefined) return () => Promise.resolve();

    const runner = dataSource.createQueryRunner();
    try {
      await runner.connect();
      const rows = (await runner.query('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
        INTAKE_LOCK_KEY,
      ])) as { locked: boolean }[];
      if (rows[0]?.locked !== true) {
        await runner.release();
        return undefined;
      }
    } catch (error) {
      await runner.release();
      throw error;
    }
    return () => this.unlock(runner);
  }

  private async unlock(runner: QueryRunner): Promise<void> {
    try {
      await runner.query('SELECT pg_advisory_unlock($1::bigint)', [INTAKE_LOCK_KEY]);
    } catch (error) {
      // The session may still hold the lock: close the connection instead of pooling it.
      this.logger.warn('orthanc.lock-release-failed', { message: errorMessage(error) });
      await discard(runner, error);
      return;
    }
    await runner.release();
  }
}

/** Releases with an error, which makes node-postgres close the connection, not reuse it. */
async function discard(runner: QueryRunner, error: unknown): Promise<void> {
  const postgres = runner as QueryRunner & {
    releasePostgresConnection?: (error?: unknown) => Promise<void>;
  };
  if (typeof postgres.releasePostgresConnection === 'function') {
    await postgres.releasePostgresConnection(
      error instanceof Error ? error : new Error('unlock failed'),
    );
  } else {
    await runner.release();
  }
}

function invalidArgument(message: string): JointspaceError {
  return new JointspaceError('invalid-argument', `ChangePoller: ${message}`, { status: 400 });
}
