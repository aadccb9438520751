// Driving the built CLI (`node dist/main.js …`) on temporary data folders, and reading what it published.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const MAIN_JS = path.join(REPO_ROOT, 'dist', 'main.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Fails early with a clear message when the build is missing (npm test builds first). */
export function requireBuild(): void {
  if (!fs.existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npx tsc -p tsconfig.json\` (npm test builds first)`);
}

/**
 * Runs `node dist/main.js ...args` and resolves with its exit code and output (never rejects on a non-zero exit).
 * Rejects when the process had to be killed after `timeoutMs`: SIGKILL, because the CLI handles SIGTERM itself.
 */
export function lambdaflow(args: readonly string[], timeoutMs = 50_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const options = { cwd: REPO_ROOT, timeout: timeoutMs, killSignal: 'SIGKILL' as const, maxBuffer: 64 << 20 };
    execFile('node', [MAIN_JS, ...args], options, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        const how = error.killed ? `was killed after ${timeoutMs} ms without finishing` : `did not exit normally (${error.signal ?? error.code})`;
        reject(new Error(`lambdaflow ${args.join(' ')} ${how}\nstdout: ${stdout}\nstderr: ${stderr}`));
        return;
      }
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** Runs the CLI and fails with its output when it does not exit 0. */
export async function lambdaflowOk(args: readonly string[], timeoutMs?: number): Promise<CliResult> {
  const result = await lambdaflow(args, timeoutMs);
  if (result.code !== 0) throw new Error(`lambdaflow ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lf-'));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes files (name → content) into <data>/batch_input/, creating it. */
export function writeBatchInputs(dataDir: string, files: Readonly<Record<string, string | Uint8Array>>): void {
  const dir = path.join(dataDir, 'batch_input');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
}

export interface BatchViewOnDisk {
  readonly dir: string;
  readonly ms: number;
  /** part file name → content, sorted by name. */
  readonly parts: Map<string, string>;
  readonly manifest: Record<string, unknown>;
  readonly files: string[];
}

/** Complete batch views (with _SUCCESS) under <data>/serving/batch, oldest first. */
export function completeBatchDirs(dataDir: string): { dir: string; ms: number }[] {
  const parent = path.join(dataDir, 'serving', 'batch');
  if (!fs.existsSync(parent)) return [];
  return fs
    .readdirSync(parent)
    .map((name) => ({ name, match: /^batch-(\d+)$/.exec(name) }))
    .filter(({ name, match }) => match && fs.existsSync(path.join(parent, name, '_SUCCESS')))
    .map(({ name, match }) => ({ dir: path.join(parent, name), ms: Number(match![1]) }))
    .sort((a, b) => a.ms - b.ms);
}

export function readBatchView(dir: string): BatchViewOnDisk {
  const files = fs.readdirSync(dir).sort();
  const parts = new Map<string, string>();
  for (const name of files.filter((n) => n.startsWith('part-'))) parts.set(name, fs.readFileSync(path.join(dir, name), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, '_MANIFEST.json'), 'utf8')) as Record<string, unknown>;
  return { dir, ms: Number(/batch-(\d+)$/.exec(dir)![1]), parts, manifest, files };
}

/** The newest complete batch view. */
export function latestBatchView(dataDir: string): BatchViewOnDisk {
  const dirs = completeBatchDirs(dataDir);
  if (dirs.length === 0) throw new Error(`no complete batch view under ${dataDir}`);
  return readBatchView(dirs.at(-1)!.dir);
}

export function readMergedView(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'serving', 'view', 'merged_view.csv'), 'utf8');
}

/** Standard 32-bit FNV-1a, written here so the partition check does not call the code under test. */
export function fnv1aOf(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
