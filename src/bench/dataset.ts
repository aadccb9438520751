// The benchmark dataset: generated batch_input/ files, reused while a marker says they are what was asked for.

import { HISTORY_SPAN_SECONDS, HISTORY_START_SECONDS } from '../core/event-generator.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateBatchFiles } from '../generate/gen-batch.js';
import { writeFileAtomically } from '../io/files/atomic.js';
import { dataLayout, isInputFileName } from '../io/files/layout.js';
import { count, seconds } from '../core/summary-format.js';

export const BENCH_FILES = 32;
export const BENCH_SEED = 42;
/** Written next to batch_input/ once generation is complete, so a half-written dataset is never reused. */
const MARKER_NAME = '_BENCH_DATASET.json';

export interface DatasetRequest {
  readonly rows: number;
  readonly users: number;
  /** Files to split the rows into (BENCH_FILES unless given). */
  readonly files?: number;
  /** A data folder to use instead of the shared temp folder. */
  readonly dataDir?: string;
}

/** What a batch run over the dataset must count, when the dataset was generated here. */
export interface ExpectedCounts {
  readonly rows: number;
  readonly purchases: number;
}

export interface BenchDataset {
  readonly dataDir: string;
  /** Undefined for files the user put there: runs are then only checked against each other. */
  readonly expected: ExpectedCounts | undefined;
  readonly description: string;
}

interface Marker {
  readonly rows: number;
  readonly users: number;
  readonly files: number;
  readonly seed: number;
  readonly purchases: number;
  readonly bytes: number;
}

function inputFiles(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter(isInputFileName);
  } catch {
    return [];
  }
}

function readMarker(file: string): Marker | undefined {
  try {
    const marker = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Marker>;
    const fields = [marker.rows, marker.users, marker.files, marker.seed, marker.purchases, marker.bytes];
    return fields.every((f) => typeof f === 'number') ? (marker as Marker) : undefined;
  } catch {
    return undefined;
  }
}

function bytesOf(dir: string, names: readonly string[]): number {
  return names.reduce((n, name) => n + fs.statSync(path.join(dir, name)).size, 0);
}

function generate(dataDir: string, request: DatasetRequest, force: boolean, print: (line: string) => void): Marker {
  const batchInput = dataLayout(dataDir).batchInput;
  print(`generating ${count(request.rows)} rows for ${count(request.users)} users in ${request.files ?? BENCH_FILES} files into ${batchInput} ...`);
  const started = performance.now();
  const files = request.files ?? BENCH_FILES;
  const result = generateBatchFiles(batchInput, {
    rows: request.rows,
    users: request.users,
    files,
    seed: BENCH_SEED,
    force,
    startSeconds: HISTORY_START_SECONDS,
    spanSeconds: HISTORY_SPAN_SECONDS,
  });
  print(`generated ${count(result.bytes)} bytes in ${seconds(performance.now() - started)}`);
  return { rows: result.rows, users: request.users, files, seed: BENCH_SEED, purchases: result.purchases, bytes: result.bytes };
}

function describe(dataDir: string, marker: Marker, how: string): BenchDataset {
  return {
    dataDir,
    expected: { rows: marker.rows, purchases: marker.purchases },
    description: `${count(marker.rows)} rows, ${count(marker.users)} users, ${marker.files} files, ${(marker.bytes / 1e6).toFixed(0)} MB (${how}) in ${dataDir}`,
  };
}

/**
 * With a data folder: generates into its empty batch_input/, or benchmarks the files already there as they are.
 * Without: uses one shared temp folder, regenerated whenever its marker does not match rows and users.
 */
export async function prepareDataset(request: DatasetRequest, print: (line: string) => void): Promise<BenchDataset> {
  if (request.dataDir !== undefined) {
    const dataDir = path.resolve(request.dataDir);
    const existing = inputFiles(dataLayout(dataDir).batchInput);
    if (existing.length === 0) return describe(dataDir, generate(dataDir, request, false, print), 'generated');
    return {
      dataDir,
      expected: undefined,
      description: `the ${existing.length} files already in ${dataLayout(dataDir).batchInput}, with any ingested stream files (--rows and --users ignored)`,
    };
  }
  const files = request.files ?? BENCH_FILES;
  // One cached folder per dataset shape, so a ladder does not regenerate a rung each time.
  const dataDir = path.join(os.tmpdir(), `lambdaflow-bench-${request.rows}-${request.users}-${files}`);
  const markerFile = path.join(dataDir, MARKER_NAME);
  const marker = readMarker(markerFile);
  const batchInput = dataLayout(dataDir).batchInput;
  const names = inputFiles(batchInput);
  if (
    marker !== undefined &&
    marker.rows === request.rows &&
    marker.users === request.users &&
    marker.files === files &&
    marker.seed === BENCH_SEED &&
    names.length === marker.files &&
    bytesOf(batchInput, names) === marker.bytes
  ) {
    return describe(dataDir, marker, 'reused');
  }
  // Start clean: a stale view or marker from another size must not survive into this dataset.
  fs.rmSync(dataDir, { recursive: true, force: true });
  const generated = generate(dataDir, request, true, print);
  await writeFileAtomically(markerFile, JSON.stringify(generated, null, 2) + '\n');
  return describe(dataDir, generated, 'generated');
}
