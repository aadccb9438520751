// DuckDB's side of the anchor as its own process: the per-user purchase query over the batch files, written as view lines.

import { parseArgs } from 'node:util';
import { DuckDBInstance, version } from '@duckdb/node-api';
import { LambdaflowError } from '../src/core/errors.js';
import { integerOption } from '../src/core/option-values.js';
import { runScript } from '../src/bench/script.js';

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

runScript('duckdb-query', async () => {
  const { values } = parseArgs({ options: { input: { type: 'string' }, threads: { type: 'string' }, output: { type: 'string' } } });
  if (values.input === undefined || values.output === undefined) {
    throw new LambdaflowError('E_OPTIONS', 'usage: node dist/bench/duckdb-query.js --input GLOB --threads T --output FILE');
  }
  const threads = integerOption(values, 'threads', 'threads', 2, 1, 256);

  const query =
    `SELECT user_id, count(*) AS n, sum(amount) AS total FROM read_csv(${sqlString(values.input)}, header=true, ` +
    `columns={'user_id':'VARCHAR','event_type':'VARCHAR','amount':'DECIMAL(18,2)','unix_timestamp':'BIGINT'}) ` +
    `WHERE event_type='purchase' GROUP BY user_id`;

  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`SET threads = ${threads}`);
    // COPY keeps the result in DuckDB's own writer, as our batch writes its part files: neither pays for JS objects.
    await connection.run(`COPY (${query}) TO ${sqlString(values.output)} (FORMAT csv, HEADER false)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  process.stdout.write(`${version()}\n`);
});
