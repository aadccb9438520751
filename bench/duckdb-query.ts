// DuckDB's side of the anchor as its own process: the per-user (or per user and hour) purchase query over the batch
// files, written as view lines.

import { DuckDBInstance, version } from '@duckdb/node-api';
import { runScript } from '../src/bench/script.js';
import { type DuckdbQueryKind, resolveDuckdbQuery } from '../src/bench/script-options.js';

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

const FASTEST_READ = (input: string): string =>
  `read_csv(${sqlString(input)}, header = true, auto_detect = false, delim = ',', quote = '', escape = '', ` +
  `columns = {'user_id': 'VARCHAR', 'event_type': 'VARCHAR', 'amount': 'DOUBLE', 'unix_timestamp': 'BIGINT'})`;

/** Each query as SQL over the input glob (the batch files start with a header line). */
const DUCKDB_QUERIES: Record<DuckdbQueryKind, (input: string) => string> = {
  decimal: (input) =>
    `SELECT user_id, count(*) AS n, sum(amount) AS total FROM read_csv(${sqlString(input)}, header=true, ` +
    `columns={'user_id':'VARCHAR','event_type':'VARCHAR','amount':'DECIMAL(18,2)','unix_timestamp':'BIGINT'}) ` +
    `WHERE event_type='purchase' GROUP BY user_id`,
  fastest: (input) =>
    `SELECT user_id, count(*) AS n, printf('%.2f', sum(amount)) AS total FROM ${FASTEST_READ(input)} WHERE event_type = 'purchase' GROUP BY user_id`,
  hourly: (input) =>
    `SELECT user_id, unix_timestamp // 3600 * 3600 AS bucket_start, count(*) AS n, printf('%.2f', sum(amount)) AS total ` +
    `FROM ${FASTEST_READ(input)} WHERE event_type = 'purchase' GROUP BY user_id, unix_timestamp // 3600`,
};

runScript('duckdb-query', async () => {
  const { input, threads, output, query: kind } = resolveDuckdbQuery(process.argv.slice(2));
  const query = DUCKDB_QUERIES[kind](input);

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
