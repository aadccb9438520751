// `lambdaflow bench` times ours against each DuckDB query, checks every answer, and reports min, median and max.

import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, runCliOk } from '../helpers/cli.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const tempRoot = tempRoots();

interface EngineJson {
  readonly minSeconds: number;
  readonly medianSeconds: number;
  readonly maxSeconds: number;
  readonly runSeconds: number[];
}

interface BenchJson {
  readonly duckdb: boolean;
  readonly duckdbQueries: string[];
  readonly results: {
    threads: number;
    ours: EngineJson;
    duckdb: Record<string, EngineJson> | null;
    vsDuckdb: Record<string, number> | null;
    speedup: number;
  }[];
}

beforeAll(requireBuild);

describe('bench', () => {
  it('runs each DuckDB query after each of ours, and reports every run with its min, median and max', async () => {
    const { root, data } = tempRoot();
    const json = path.join(root, 'bench.json');
    const run = await runCliOk(
      ['bench', '--data', data, '--rows', '3000', '--users', '200', '--threads', '1,2', '--repeat', '3', '--json', json, '--log-level', 'warn'],
      { timeoutMs: 240_000 },
    );
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as BenchJson;
    expect(report.results.map((r) => r.threads)).toEqual([1, 2]);
    const engines = report.results.flatMap((r) => [r.ours, ...Object.values(r.duckdb ?? {})]);
    for (const e of engines) {
      expect(e.runSeconds).toHaveLength(3);
      expect([e.minSeconds, e.maxSeconds]).toEqual([Math.min(...e.runSeconds), Math.max(...e.runSeconds)]);
      expect(e.medianSeconds).toBe([...e.runSeconds].sort((a, b) => a - b)[1]);
    }
    // @duckdb/node-api is a devDependency: `npm ci` installs it where the tests run.
    expect(report.duckdb).toBe(true);
    expect(report.duckdbQueries).toEqual(['fastest', 'hourly', 'decimal']);
    for (const r of report.results) {
      for (const q of report.duckdbQueries) expect(r.vsDuckdb![q]).toBeCloseTo(r.duckdb![q]!.medianSeconds / r.ours.medianSeconds, 6);
    }
    expect(run.stdout).toContain("each DuckDB query's answer equals ours");
    expect(run.stdout).toMatch(/seconds min \/ median \/ max/);
  }, 300_000);
});
