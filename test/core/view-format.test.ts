// View text as every layer reads it, and as a Spark job may write it: which names in a view folder are data parts,
// a header skipped as a part's first line only, and the amounts and counts a part may hold.

import { describe, expect, it } from 'vitest';
import { ALL_TIME, UserAggTable } from '../../src/core/agg-table.js';
import { LambdaflowError } from '../../src/core/errors.js';
import {
  BATCH_VIEW_HEADER,
  BUCKETS_HEADER,
  MERGED_VIEW_HEADER,
  NO_BUCKET_FIELD,
  type ViewFirstLine,
  bucketField,
  bucketFieldOf,
  forEachViewLine,
  formatBlock,
  mergeViewText,
  viewPartEncoding,
} from '../../src/core/view-format.js';

const FILE = '/views/part-00000';

function totalsOf(text: string, firstLine: ViewFirstLine = 'header-or-data'): [string, number, number][] {
  const table = new UserAggTable();
  mergeViewText(Buffer.from(text), FILE, table, 1, firstLine);
  return table.toSortedTotals().map((t) => [t.userId, t.count, t.cents]);
}

function damageOf(text: string, firstLine: ViewFirstLine = 'header-or-data'): { code: string; message: string; line: number | undefined } {
  try {
    totalsOf(text, firstLine);
  } catch (error) {
    if (!(error instanceof LambdaflowError)) throw error;
    return { code: error.code, message: error.message, line: error.context.line };
  }
  throw new Error(`${JSON.stringify(text)} was read without an error`);
}

describe('viewPartEncoding: which names in a view folder are data', () => {
  it.each([
    ['part-00000', 'plain'],
    ['part-00017', 'plain'],
    ['part-00000-7f3c9a52-1d2e-4b8a-9c61-0e5f4d3a2b19-c000.csv', 'plain'],
    ['part-00001-7f3c9a52-1d2e-4b8a-9c61-0e5f4d3a2b19-c000.csv.gz', 'gzip'],
    ['part-00000.csv', 'plain'],
  ])('%s is a %s part', (name, encoding) => {
    expect(viewPartEncoding(name)).toBe(encoding);
  });

  it.each([
    '_SUCCESS',
    '_MANIFEST.json',
    '_REALTIME.json',
    '_committed_8163771215325318815',
    '._SUCCESS.crc',
    '.part-00000-7f3c9a52-1d2e-4b8a-9c61-0e5f4d3a2b19-c000.csv.crc',
    '.part-00000-7f3c9a52-1d2e-4b8a-9c61-0e5f4d3a2b19-c000.csv.gz.crc',
    'part-00000-7f3c9a52-1d2e-4b8a-9c61-0e5f4d3a2b19-c000.csv.crc',
    'part-00000.crc',
    'part-00000-7f3c9a52-1d2e-4b8a-9c61-0e5f4d3a2b19-c000.csv.snappy',
    'part-00000-7f3c9a52-1d2e-4b8a-9c61-0e5f4d3a2b19-c000.json',
    'part-00000.csv.gz.tmp',
    '.part-00000',
    'PART-00000',
    'notes.txt',
    'part00000',
  ])('%s is not read', (name) => {
    expect(viewPartEncoding(name)).toBeUndefined();
  });
});

describe('a header line', () => {
  it.each([
    ['Spark column names', `${BATCH_VIEW_HEADER}\nalice,3,12.50\n`],
    ['the merged view header', `${MERGED_VIEW_HEADER}\nalice,3,12.50\n`],
    ['no header', 'alice,3,12.50\n'],
  ])('is skipped as the first line of a part (%s)', (_name, text) => {
    expect(totalsOf(text)).toEqual([['alice', 3, 1250]]);
  });

  it.each([
    ['with a newline', `${BATCH_VIEW_HEADER}\n`],
    ['without a newline', BATCH_VIEW_HEADER],
  ])('alone makes an empty part (%s)', (_name, text) => {
    expect(totalsOf(text)).toEqual([]);
  });

  it('anywhere but the first line is a damaged line', () => {
    expect(damageOf(`alice,3,12.50\n${BATCH_VIEW_HEADER}\n`)).toEqual({ code: 'E_STATE', message: `damaged view file ${FILE} at line 2`, line: 2 });
    expect(damageOf(`${BATCH_VIEW_HEADER}\n${BATCH_VIEW_HEADER}\nalice,3,12.50\n`)).toMatchObject({ code: 'E_STATE', line: 2 });
  });

  it('is counted as line 1, so damage after it is reported at its own line', () => {
    expect(damageOf(`${BATCH_VIEW_HEADER}\nalice,3,12.50\nbob,x,1.00\n`)).toMatchObject({ code: 'E_STATE', line: 3 });
  });

  it.each([
    ['where none may be (deltas and other data-only files)', `${BATCH_VIEW_HEADER}\nalice,3,12.50\n`, 'data'],
    ['in other words', 'user,count,amount\nalice,3,12.50\n', 'header-or-data'],
    ['with CRLF', `${BATCH_VIEW_HEADER}\r\nalice,3,12.50\n`, 'header-or-data'],
    ['quoted', '"user_id","purchase_count","purchase_amount_total"\nalice,3,12.50\n', 'header-or-data'],
    ['with more after it', `${BATCH_VIEW_HEADER},x\nalice,3,12.50\n`, 'header-or-data'],
  ] as const)('is damage at line 1 when not an accepted header %s', (_name, text, firstLine) => {
    expect(damageOf(text, firstLine)).toMatchObject({ code: 'E_STATE', line: 1 });
  });
});

describe('amounts and counts in a part', () => {
  it('amounts may have two, one or no decimals (Spark writes a double sum as 12.5 and a whole one as 12)', () => {
    expect(totalsOf('a,1,12.50\nb,1,12.5\nc,1,12\nd,2,-2.5\ne,1,+3\nf,1,0.05\n')).toEqual([
      ['a', 1, 1250],
      ['b', 1, 1250],
      ['c', 1, 1200],
      ['d', 2, -250],
      ['e', 1, 300],
      ['f', 1, 5],
    ]);
  });

  it("a total may exceed one row's limit ($999,999,999.99), up to what a double keeps exact", () => {
    expect(totalsOf('a,3,2999999999.97\n"b,c",2,90071992547409.91\n')).toEqual([
      ['a', 3, 299_999_999_997],
      ['b,c', 2, Number.MAX_SAFE_INTEGER],
    ]);
    expect(damageOf('a,1,90071992547409.92\n')).toMatchObject({ code: 'E_STATE', line: 1 });
  });

  it.each(['1.0E7', '1e3', '12.345', '.5', '12.', '1,000.00', 'NaN', ''])('amount %j is damage, never rounded', (amount) => {
    expect(damageOf(`${BATCH_VIEW_HEADER}\na,1,${amount}\n`)).toMatchObject({ code: 'E_STATE', line: 2 });
  });

  it.each(['1.0', '-1', '+1', '1e2', ' 1', ''])('count %j is damage: counts are whole numbers (with a plain or a quoted user id)', (count) => {
    expect(damageOf(`a,${count},1.00\n`)).toMatchObject({ code: 'E_STATE', line: 1 });
    expect(damageOf(`"a,b",${count},1.00\n`)).toMatchObject({ code: 'E_STATE', line: 1 });
  });

  it('a user id with a comma or a quote is RFC 4180 quoted', () => {
    expect(totalsOf('"bob, jr.",1,7\n"say ""hi""",2,1.5\n')).toEqual([
      ['bob, jr.', 1, 700],
      ['say "hi"', 2, 150],
    ]);
  });
});

describe("formatBlock: a block's lines, read back the same", () => {
  // Any user id the event parser admits (no control characters); totals as files hold them (never negative).
  const users: [string, number, number][] = [
    ['u1', 3, 1999],
    ['with,comma', 1, 5],
    ['say "hi"', 2, 250],
    ['"', 1, 1],
    ['älvsjö', 1, 0],
    ['big', 4_000_000, 9_007_199_254_740_99],
  ];
  const block = (() => {
    const table = new UserAggTable();
    for (const [id, count, cents] of users) {
      const key = Buffer.from(id);
      table.add(key, 0, key.length, count, cents);
    }
    return table.toBlock();
  })();

  it.each(['', '17,'])('with line prefix %j, every user, count and amount comes back', (prefix) => {
    const text = formatBlock(block, prefix);
    const read: [string, number, number][] = [];
    forEachViewLine(text, FILE, prefix ? 1 : 0, (fields, key, start, end, count, cents) => {
      if (prefix) expect(fields).toEqual([17]);
      read.push([Buffer.from(key.subarray(start, end)).toString(), count, cents]);
    });
    expect(read.sort()).toEqual([...users].sort());
  });

  it('writes the text an independent formatter writes', () => {
    const expected = users.map(([id, count, cents]) => {
      const field = /[",\n\r]/.test(id) ? `"${id.replaceAll('"', '""')}"` : id;
      const amount = `${cents < 0 ? '-' : ''}${Math.floor(Math.abs(cents) / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;
      return `9,${field},${count},${amount}\n`;
    });
    expect(
      formatBlock(block, '9,')
        .toString()
        .split(/(?<=\n)(?=9,)/)
        .sort(),
    ).toEqual(expected.sort());
  });
});

describe('lines per (user, bucket)', () => {
  const B = 3_600;
  function bucketLinesOf(text: string, firstLine: ViewFirstLine = 'header-or-data'): [string, number, number, number][] {
    const read: [string, number, number, number][] = [];
    forEachViewLine(
      Buffer.from(text),
      FILE,
      0,
      (_p, key, start, end, count, cents, bucket) => read.push([Buffer.from(key.subarray(start, end)).toString(), bucket, count, cents]),
      {
        firstLine,
        buckets: bucketField(B),
      },
    );
    return read;
  }

  it('reads bucket starts as bucket numbers (quoted or not, a header first), and an empty bucket as over all time', () => {
    expect(bucketLinesOf(`${BUCKETS_HEADER}\nu1,7200,2,3.50\n"a,b","3600",1,1\nu2,,4,1.00\n`)).toEqual([
      ['u1', 2, 2, 350],
      ['a,b', 1, 1, 100],
      ['u2', ALL_TIME, 4, 100],
    ]);
  });

  it.each([
    ['a start not aligned to the bucket size', 'u1,7201,2,3.50\n'],
    ['a negative start', 'u1,-3600,2,3.50\n'],
    ['a start that is not a number', 'u1,1e4,2,3.50\n'],
    ['a line without its bucket (cut off, or from before buckets)', 'u1,2,3.50\n'],
  ])('%s is a damaged line', (_name, text) => {
    expect(() => bucketLinesOf(text, 'data')).toThrow(/damaged view file .* at line 1/);
  });

  it('tells a part with buckets by its header, and one from before buckets by its lack of one', () => {
    expect(bucketFieldOf(Buffer.from(`${BUCKETS_HEADER}\nu,0,1,1.00\n`), B)).toEqual(bucketField(B));
    expect(bucketFieldOf(Buffer.from('u,1,1.00\n'), B)).toEqual(NO_BUCKET_FIELD);
  });

  it('formatBlock writes a bucket start after the user id (empty over all time), and reads back the same', () => {
    const table = new UserAggTable();
    for (const [id, bucket, cents] of [
      ['u1', 5, 100],
      ['u1', 6, 250],
      ['x,y', 0, 1],
      ['u2', ALL_TIME, 7],
    ] as const) {
      const key = Buffer.from(id);
      table.add(key, 0, key.length, 1, cents, undefined, bucket);
    }
    const text = formatBlock(table.toBlock(), '3,', bucketField(B)).toString();
    expect(text.split('\n').filter(Boolean).sort()).toEqual(['3,"x,y",0,1,0.01', '3,u1,18000,1,1.00', '3,u1,21600,1,2.50', '3,u2,,1,0.07']);
    const read = new UserAggTable();
    forEachViewLine(Buffer.from(text), FILE, 1, (_p, key, start, end, count, cents, bucket) => read.add(key, start, end, count, cents, undefined, bucket), {
      buckets: bucketField(B),
    });
    expect(read.toSortedBucketTotals()).toEqual(table.toSortedBucketTotals());
  });
});
