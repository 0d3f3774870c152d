// Jobs and the gallery on disk (SQLite via better-sqlite3), so the queue and every result survive a restart or
// a crash. This module is the only one that speaks SQL.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ErrorInfo, ImageRef, JobState, Progress, ResolvedJob } from '../http/schemas.js';

export interface StoredJob {
  id: string;
  state: JobState;
  request: ResolvedJob;
  modelDir: string;
  owner: string | null;
  attempts: number;
  progress: Progress | null;
  images: ImageRef[];
  error: ErrorInfo | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface GalleryImage extends ImageRef {
  jobId: string;
  prompt: string;
  negativePrompt: string;
  model: string;
  sampler: string;
  steps: number;
  cfgScale: number;
  createdAt: string;
  request: ResolvedJob;
}

export interface GalleryPage {
  images: GalleryImage[];
  /** Pass back as `cursor` for the next (older) page; null at the end. */
  nextCursor: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  request TEXT NOT NULL,
  model_dir TEXT NOT NULL,
  owner TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  progress TEXT,
  images TEXT NOT NULL DEFAULT '[]',
  error TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, seq);
CREATE TABLE IF NOT EXISTS images (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  job_id TEXT NOT NULL,
  seed INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  partial INTEGER NOT NULL DEFAULT 0,
  prompt TEXT NOT NULL,
  model TEXT NOT NULL,
  request TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS images_model ON images(model, seq);
`;

interface JobRow {
  id: string;
  state: JobState;
  request: string;
  model_dir: string;
  owner: string | null;
  attempts: number;
  progress: string | null;
  images: string;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

interface ImageRow {
  seq: number;
  id: string;
  job_id: string;
  seed: number;
  width: number;
  height: number;
  partial: number;
  request: string;
  created_at: string;
}

const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

export class JobStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    // WAL keeps readers and the writer apart; a crash loses at most the transaction in flight.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.statements = {
      upsert: this.db.prepare(`
        INSERT INTO jobs (id, seq, state, request, model_dir, owner, attempts, progress, images, error, created_at, started_at, finished_at)
        VALUES (@id, COALESCE((SELECT seq FROM jobs WHERE id = @id), (SELECT IFNULL(MAX(seq), 0) + 1 FROM jobs)), @state, @request, @model_dir, @owner, @attempts, @progress, @images, @error, @created_at, @started_at, @finished_at)
        ON CONFLICT(id) DO UPDATE SET state = excluded.state, request = excluded.request, attempts = excluded.attempts, progress = excluded.progress,
          images = excluded.images, error = excluded.error, started_at = excluded.started_at, finished_at = excluded.finished_at`),
      unfinished: this.db.prepare(`SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq`),
      recent: this.db.prepare(`SELECT * FROM jobs WHERE state IN ('done', 'failed', 'cancelled') ORDER BY finished_at DESC, seq DESC LIMIT ?`),
      get: this.db.prepare(`SELECT * FROM jobs WHERE id = ?`),
      imageJob: this.db.prepare(`SELECT job_id FROM images WHERE id = ?`),
      deleteImage: this.db.prepare(`DELETE FROM images WHERE id = ?`),
      addImage: this.db.prepare(`
        INSERT OR IGNORE INTO images (id, job_id, seed, width, height, partial, prompt, model, request, created_at)
        VALUES (@id, @job_id, @seed, @width, @height, @partial, @prompt, @model, @request, @created_at)`),
    };
  }

  save(job: StoredJob): void {
    this.statements.upsert.run({
      id: job.id,
      state: job.state,
      request: JSON.stringify(job.request),
      model_dir: job.modelDir,
      owner: job.owner,
      attempts: job.attempts,
      progress: job.progress ? JSON.stringify(job.progress) : null,
      images: JSON.stringify(job.images),
      error: job.error ? JSON.stringify(job.error) : null,
      created_at: job.createdAt,
      started_at: job.startedAt,
      finished_at: job.finishedAt,
    });
  }

  /** Queued and running jobs in submission order: what a restart must pick up. */
  unfinished(): StoredJob[] {
    return (this.statements.unfinished.all() as JobRow[]).map(toJob);
  }

  recent(limit: number): StoredJob[] {
    return (this.statements.recent.all(limit) as JobRow[]).map(toJob);
  }

  get(id: string): StoredJob | undefined {
    const row = this.statements.get.get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  addImage(job: StoredJob, image: ImageRef): void {
    this.statements.addImage.run({
      id: image.id,
      job_id: job.id,
      seed: image.seed,
      width: image.width,
      height: image.height,
      partial: image.partial ? 1 : 0,
      prompt: job.request.prompt,
      model: job.request.model,
      request: JSON.stringify(job.request),
      created_at: new Date().toISOString(),
    });
  }

  /** The id of the job that made an image, or undefined if the gallery does not know it. */
  jobOfImage(id: string): string | undefined {
    return (this.statements.imageJob.get(id) as { job_id: string } | undefined)?.job_id;
  }

  /** Removes an image from the gallery; returns the id of the job that made it, or undefined if unknown. */
  deleteImage(id: string): string | undefined {
    const jobId = this.jobOfImage(id);
    if (jobId) this.statements.deleteImage.run(id);
    return jobId;
  }

  /** Every image ever made here, newest first; `q` searches prompts, `model` filters. */
  gallery(options: { cursor?: string; q?: string; model?: string; limit: number }): GalleryPage {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: options.limit + 1 };
    if (options.cursor) {
      where.push('seq < @cursor');
      params.cursor = Number(options.cursor);
    }
    if (options.q) {
      where.push(`prompt LIKE @q ESCAPE '\\'`);
      params.q = `%${options.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    }
    if (options.model) {
      where.push('model = @model');
      params.model = options.model;
    }
    const sql = `SELECT * FROM images ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit`;
    const rows = this.db.prepare(sql).all(params) as ImageRow[];
    const more = rows.length > options.limit;
    const page = rows.slice(0, options.limit);
    return {
      images: page.map(toGalleryImage),
      nextCursor: more && page.length ? String(page[page.length - 1]!.seq) : null,
    };
  }

  close(): void {
    this.db.close();
  }
}

function toJob(row: JobRow): StoredJob {
  return {
    id: row.id,
    state: row.state,
    request: JSON.parse(row.request) as ResolvedJob,
    modelDir: row.model_dir,
    owner: row.owner,
    attempts: row.attempts,
    progress: parse<Progress>(row.progress),
    images: JSON.parse(row.images) as ImageRef[],
    error: parse<ErrorInfo>(row.error),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function toGalleryImage(row: ImageRow): GalleryImage {
  const request = JSON.parse(row.request) as ResolvedJob;
  return {
    id: row.id,
    url: `/api/images/${row.id}`,
    seed: row.seed,
    width: row.width,
    height: row.height,
    ...(row.partial ? { partial: true } : {}),
    jobId: row.job_id,
    prompt: request.prompt,
    negativePrompt: request.negativePrompt,
    model: request.model,
    sampler: request.sampler,
    steps: request.steps,
    cfgScale: request.cfgScale,
    createdAt: row.created_at,
    request: { ...request, seed: row.seed },
  };
}
