// The JSON-lines reader and appender every log shares: a last line a crash cut short is left out and cut off, any
// other line the caller refuses is damage naming the file and the line.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { appendJsonLines, readJsonLines } from '../../../src/io/logs/json-lines.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

/** Reads a file, accepting every line that is an object with a number `n`; returns the ns and the valid bytes. */
function readNs(file: string): { ns: number[]; validBytes: number } {
  const ns: number[] = [];
  const validBytes = readJsonLines(file, `the test log ${file}`, (value) => {
    const n = (value as { n?: unknown } | undefined)?.n;
    if (typeof n !== 'number') return false;
    ns.push(n);
    return true;
  });
  return { ns, validBytes };
}

describe('readJsonLines', () => {
  it.each([
    { name: 'no file', text: undefined, ns: [], validBytes: 0 },
    { name: 'an empty file', text: '', ns: [], validBytes: 0 },
    { name: 'whole lines', text: '{"n":1}\n{"n":2}\n', ns: [1, 2], validBytes: 16 },
    { name: 'a last line cut short', text: '{"n":1}\n{"n":', ns: [1], validBytes: 8 },
    { name: 'a last line without its newline, though whole', text: '{"n":1}\n{"n":2}', ns: [1], validBytes: 8 },
    { name: 'CRLF line ends', text: '{"n":1}\r\n', ns: [1], validBytes: 9 },
    { name: 'multi-byte characters (bytes, not characters, counted)', text: '{"n":1,"s":"é€"}\n', ns: [1], validBytes: 20 },
  ])('$name', ({ text, ns, validBytes }) => {
    const file = path.join(newTempRoot().data, 'log.jsonl');
    if (text !== undefined) fs.writeFileSync(file, text);
    expect(readNs(file)).toEqual({ ns, validBytes });
  });

  it.each([
    { name: 'a line that is not JSON', text: '{"n":1}\nnot json\n{"n":3}\n', line: 2 },
    { name: 'a blank line', text: '{"n":1}\n\n', line: 2 },
    { name: 'a line the caller refuses', text: '{"n":"one"}\n', line: 1 },
  ])('$name is damage: E_STATE naming the label and the line', ({ text, line }) => {
    const file = path.join(newTempRoot().data, 'log.jsonl');
    fs.writeFileSync(file, text);
    expect(() => readNs(file)).toThrow(
      expect.objectContaining({ code: 'E_STATE', message: `the test log ${file} is damaged at line ${line}`, context: { file, line } }),
    );
  });

  it('a file that cannot be read is E_STATE naming the label', () => {
    const dir = path.join(newTempRoot().data, 'a-folder');
    fs.mkdirSync(dir);
    expect(() => readNs(dir)).toThrow(
      expect.objectContaining({ code: 'E_STATE', message: expect.stringMatching(new RegExp(`^cannot read the test log ${dir}: `)) }),
    );
  });
});

/** A line as every writer since checks writes it: the JSON with a last key `crc32`, the CRC-32 of the text before it. */
function checkedLine(json: string): string {
  const body = json.slice(0, -1);
  return `${body},"crc32":${zlib.crc32(body)}}\n`;
}

describe('readJsonLines: lines that prove themselves (issue 24)', () => {
  const checked = ['{"n":1,"size":2583}', '{"n":2,"size":2617}', '{"n":3,"size":2629}'].map(checkedLine);

  it('takes checked lines, and old lines written before checks, as they are', () => {
    const file = path.join(newTempRoot().data, 'log.jsonl');
    fs.writeFileSync(file, `{"n":0}\n${checked.join('')}`);
    expect(readNs(file).ns).toEqual([0, 1, 2, 3]);
  });

  it('a digit flipped in a middle line that still parses is damage naming the file and the line', () => {
    const file = path.join(newTempRoot().data, 'log.jsonl');
    fs.writeFileSync(file, [checked[0], checked[1]!.replace('2617', '2616'), checked[2]].join(''));
    expect(() => readNs(file)).toThrow(
      expect.objectContaining({
        code: 'E_STATE',
        message: expect.stringMatching(new RegExp(`^the test log ${file} is damaged at line 2: expected CRC-32 [0-9a-f]{8}, found [0-9a-f]{8}$`)),
        context: { file, line: 2 },
      }),
    );
  });

  it('a line without its check after lines with theirs is damage (its check was cut away or never written)', () => {
    const file = path.join(newTempRoot().data, 'log.jsonl');
    fs.writeFileSync(file, `${checked[0]}{"n":2,"size":2617}\n${checked[2]}`);
    expect(() => readNs(file)).toThrow(expect.objectContaining({ code: 'E_STATE', context: { file, line: 2 } }));
  });

  it('a last line a crash cut short is still left out, checked lines or not', () => {
    const file = path.join(newTempRoot().data, 'log.jsonl');
    const text = checked.join('');
    fs.writeFileSync(file, text.slice(0, -8));
    expect(readNs(file)).toEqual({ ns: [1, 2], validBytes: checked[0]!.length + checked[1]!.length });
  });

  it('a link is not followed: E_STATE', () => {
    const { data, outside } = newTempRoot();
    fs.writeFileSync(path.join(outside, 'log.jsonl'), checked.join(''));
    fs.symlinkSync(path.join(outside, 'log.jsonl'), path.join(data, 'log.jsonl'));
    expect(() => readNs(path.join(data, 'log.jsonl'))).toThrow(expect.objectContaining({ code: 'E_STATE', message: expect.stringContaining('symbolic link') }));
  });
});

describe('appendJsonLines', () => {
  it('creates the file, then appends after the valid bytes, cutting off a half line, each line with its check', () => {
    const file = path.join(newTempRoot().data, 'log.jsonl');
    appendJsonLines(file, 'the test log', 0, [{ n: 1 }, { n: 2 }]);
    expect(fs.readFileSync(file, 'utf8')).toBe(checkedLine('{"n":1}') + checkedLine('{"n":2}'));
    fs.appendFileSync(file, '{"n":');
    appendJsonLines(file, 'the test log', readNs(file).validBytes, [{ n: 3 }]);
    expect(readNs(file)).toEqual({ ns: [1, 2, 3], validBytes: fs.statSync(file).size });
    expect(fs.readFileSync(file, 'utf8')).toBe(['{"n":1}', '{"n":2}', '{"n":3}'].map(checkedLine).join(''));
  });

  it('a file that cannot be opened is E_WRITE naming the label', () => {
    const file = path.join(newTempRoot().data, 'missing-folder', 'log.jsonl');
    expect(() => appendJsonLines(file, 'the test log', 0, [{ n: 1 }])).toThrow(
      expect.objectContaining({ code: 'E_WRITE', message: expect.stringMatching(/^cannot append to the test log: /) }),
    );
  });
});
