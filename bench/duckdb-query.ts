// DuckDB's side of the anchor as its own process: the per-user purchase query over the batch files, written as view lines.

import { DuckDBInstance, version } from '@duckdb/node-api';
import { runScript } from '../src/bench/script.js';
import { resolveDuckdbQuery } from '../src/bench/script-options.js';

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

runScript('duckdb-query', async () => {
  const { input, threads, output } = resolveDuckdbQuery(process.argv.slice(2));

  const query =
    `SELECT user_id, count(*) AS n, sum(amount) AS total FROM read_csv(${sqlString(input)}, header=true, ` +
    `columns={'user_id':'VARCHAR','event_type':'VARCHAR','amount':'DECIMAL(18,2)','unix_timestamp':'BIGINT'}) ` +
    `WHERE event_type='purchase' GROUP BY user_id`;

  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`SET threads = ${threads}`);
    // COPY keeps the result in DuckDB's own writer, as our batch writes its part files: neither pays for JS objects.
    await connection.run(`COPY (${query}) TO ${sqlString(output)} (FORMAT csv, HEADER false)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  process.stdout.write(`${version()}\n`);
});
