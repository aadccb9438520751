// NATS names the pipeline derives from its options: the server addresses of a `nats://HOST:PORT[,…]` source or sink,
// and the subject of each partition (`events.>` → `events.0`, `events.1`, …), checked once at the boundary.

import { optionError } from './option-values.js';

export interface NatsAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, an IPv6 host in brackets: what a NATS client connects to. */
export const natsHostPort = (server: NatsAddress): string => `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;

/** The address as the options take it: `nats://host:port`. */
export const formatNatsAddress = (server: NatsAddress): string => `nats://${natsHostPort(server)}`;

/** Several addresses as the options take them: `nats://a:4222,nats://b:4222`. */
export const formatNatsAddresses = (servers: readonly NatsAddress[]): string => servers.map(formatNatsAddress).join(',');

/** `nats://HOST:PORT` (HOST a name, an IPv4 address or a bracketed IPv6 one); undefined when the text is not one. */
export function parseNatsUrl(text: string): NatsAddress | undefined {
  const match = /^nats:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * A comma-separated list of `nats://HOST:PORT` (servers of one cluster: the client connects to one of them and fails
 * over to the others); undefined when any item is not one. A server named twice is kept once.
 */
export function parseNatsUrls(text: string): NatsAddress[] | undefined {
  const servers: NatsAddress[] = [];
  for (const item of text.split(',')) {
    const server = parseNatsUrl(item.trim());
    if (!server) return undefined;
    if (!servers.some((s) => s.host === server.host && s.port === server.port)) servers.push(server);
  }
  return servers;
}

/** A subject of tokens separated by dots, with `*` or a final `>` as wildcards; undefined when it is one, else what is wrong. */
export function subjectProblem(subject: string): string | undefined {
  const tokens = subject.split('.');
  for (const [i, token] of tokens.entries()) {
    if (token === '') return 'has an empty token';
    if (/[\s]/.test(token)) return 'has white space';
    if (token === '>' && i !== tokens.length - 1) return "has '>' before its last token";
    if (token !== '*' && token !== '>' && /[*>]/.test(token)) return 'has a wildcard inside a token';
  }
  return undefined;
}

/** The rule of partitions, checked by the option resolvers and by partitionSubject: their subject ends in `.>`. */
export function checkPartitionedSubject(streamSubject: string): void {
  if (!streamSubject.endsWith('.>')) throw optionError('nats-subject', `partitions need a subject ending in .> (like events.>), got "${streamSubject}"`);
}

/**
 * The subject partition `partition` of `streamSubject` publishes to and is read from: the subject with its final `>`
 * replaced by the partition number (`events.>` → `events.3`). Partitions need a subject ending in `.>`.
 */
export function partitionSubject(streamSubject: string, partition: number): string {
  checkPartitionedSubject(streamSubject);
  return `${streamSubject.slice(0, -1)}${partition}`;
}
