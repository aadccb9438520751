// NATS names from options: server addresses, subject checks and each partition's subject.
import { describe, expect, it } from 'vitest';
import { checkPartitionedSubject, parseNatsUrl, partitionSubject, subjectProblem } from '../../src/core/nats-names.js';
import { expectOptionsError } from '../helpers/option-errors.js';

describe('parseNatsUrl', () => {
  it.each([
    ['nats://127.0.0.1:4222', { host: '127.0.0.1', port: 4222 }],
    ['nats://localhost:1', { host: 'localhost', port: 1 }],
    ['nats://[::1]:65535', { host: '::1', port: 65_535 }],
  ])('reads %s', (text, address) => {
    expect(parseNatsUrl(text)).toEqual(address);
  });

  it.each(['nats://127.0.0.1', 'nats://127.0.0.1:0', 'nats://127.0.0.1:65536', 'tls://h:1', 'nats://h:1/x', 'nats://user@h:1', '127.0.0.1:4222'])(
    'refuses %s',
    (text) => {
      expect(parseNatsUrl(text)).toBeUndefined();
    },
  );
});

describe('subjects', () => {
  it.each([
    ['events.>', undefined],
    ['a.*.c', undefined],
    ['single', undefined],
    ['events..x', 'has an empty token'],
    ['.events', 'has an empty token'],
    ['events.>.x', "has '>' before its last token"],
    ['ev*nts.>', 'has a wildcard inside a token'],
    ['ev nts', 'has white space'],
  ])('%s: %s', (subject, problem) => {
    expect(subjectProblem(subject)).toBe(problem);
  });

  it("a partition's subject puts its number in place of the final >", () => {
    expect(partitionSubject('events.>', 0)).toBe('events.0');
    expect(partitionSubject('a.b.>', 12)).toBe('a.b.12');
    expect(() => partitionSubject('events', 1)).toThrow(/--nats-subject: partitions need a subject ending in \.>/);
  });

  it('partitions need a subject ending in .>: one rule, for the option resolvers and partitionSubject alike', () => {
    expect(() => checkPartitionedSubject('events.>')).not.toThrow();
    for (const subject of ['events', 'events.*', 'events>']) {
      expect(expectOptionsError(() => checkPartitionedSubject(subject), 'nats-subject').message).toBe(
        `--nats-subject: partitions need a subject ending in .> (like events.>), got "${subject}"`,
      );
    }
  });
});
