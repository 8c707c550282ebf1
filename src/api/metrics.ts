/**
 * The Prometheus metrics of one jointspace process, served at `GET /metrics`.
 *
 * Each `ServiceMetrics` has its own registry rather than prom-client's global one, so several
 * apps in one process (tests, or API and worker side by side) never collide or share counts.
 * Labels are small fixed sets: never a UID or anything else that grows with the data.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IntakeSource } from '../pipeline/job.js';

export const JOB_OUTCOME_LABELS = [
  'succeeded',
  'failed-permanent',
  'failed-transient',
  'skipped',
] as const;
export type JobOutcomeLabel = (typeof JOB_OUTCOME_LABELS)[number];

export const IMAGE_OUTCOME_LABELS = ['graded', 'refused', 'failed'] as const;
export type ImageOutcomeLabel = (typeof IMAGE_OUTCOME_LABELS)[number];

export const INTAKE_SOURCE_LABELS = ['push', 'poll', 'reprocess'] as const satisfies IntakeSource[];

export const STAGES = ['fetch', 'decode', 'grade', 'measure', 'build', 'store', 'total'] as const;
export type Stage = (typeof STAGES)[number];

/** 1 ms (a store write) to 60 s (a large study end to end): 1-2.5-5 per decade, then 20, 30, 60. */
export const STAGE_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60,
];

export class ServiceMetrics {
  readonly registry = new Registry();

  private readonly jobs: Counter<'outcome'>;
  private readonly images: Counter<'outcome'>;
  private readonly intakeEvents: Counter<'source'>;
  private readonly stageDuration: Histogram<'stage'>;
  private readonly queueDepth: Gauge;
  private queueDepthSource: (() => Promise<number>) | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];

    this.jobs = new Counter({
      name: 'jointspace_jobs_total',
      help: 'Study jobs finished, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.images = new Counter({
      name: 'jointspace_images_total',
      help: 'Images processed, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.intakeEvents = new Counter({
      name: 'jointspace_intake_events_total',
      help: 'Studies handed to the queue, by intake path',
      labelNames: ['source'],
      registers,
    });
    this.stageDuration = new Histogram({
      name: 'jointspace_stage_duration_seconds',
      help: 'Time spent per pipeline stage',
      labelNames: ['stage'],
      buckets: STAGE_BUCKETS_SECONDS,
      registers,
    });

    this.queueDepth = new Gauge({
      name: 'jointspace_queue_depth',
      help: 'Jobs waiting to run (NaN when the queue could not be asked)',
      registers,
      collect: () => this.collectQueueDepth(),
    });

    // Every series exists from the start at 0, so rates and alerts work before the first event.
    for (const outcome of JOB_OUTCOME_LABELS) this.jobs.inc({ outcome }, 0);
    for (const outcome of IMAGE_OUTCOME_LABELS) this.images.inc({ outcome }, 0);
    for (const source of INTAKE_SOURCE_LABELS) this.intakeEvents.inc({ source }, 0);
    for (const stage of STAGES) this.stageDuration.zero({ stage });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Where the queue depth gauge reads its value at each scrape. */
  setQueueDepthSource(source: () => Promise<number>): void {
    this.queueDepthSource = source;
  }

  jobFinished(outcome: JobOutcomeLabel): void {
    this.jobs.inc({ outcome });
  }

  imageFinished(outcome: ImageOutcomeLabel): void {
    this.images.inc({ outcome });
  }

  intake(source: IntakeSource): void {
    this.intakeEvents.inc({ source });
  }

  observeStage(stage: Stage, seconds: number): void {
    this.stageDuration.observe({ stage }, seconds);
  }

  private async collectQueueDepth(): Promise<void> {
    if (this.queueDepthSource === undefined) return;
    try {
      this.queueDepth.set(await this.queueDepthSource());
    } catch {
      // A failing queue must not fail the whole scrape; NaN says "unknown".
      this.queueDepth.set(Number.NaN);
    }
  }

  /** The text exposition format of every metric in this registry. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
