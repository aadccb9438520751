// A NATS server for tests: Debian's nats-server with JetStream on a free loopback port and a store folder of the
// test's own; stopped, killed (kill -9) and restarted on the same port and store. Also a cluster of three such
// servers routed to each other on loopback ports, and an independent reader of what a stream holds (the NATS client
// library, not src/), to recount what was published. A `url` may be a comma-separated list of a cluster's servers.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { freePort } from '../../src/io/runtime/free-port.js';

export { freePort };

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** The nats-server binary, or undefined when it is not installed (`.ci/run` installs Debian's). */
export const NATS_SERVER = CANDIDATES.find((file) => fs.existsSync(file));
export const SKIP_NATS = NATS_SERVER === undefined ? 'nats-server is not installed (apt-get install nats-server; .ci/run does it)' : undefined;

export class NatsTestServer {
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    /** More nats-server arguments: a cluster member's name, cluster port and routes. */
    private readonly extraArgs: readonly string[] = [],
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts a server with JetStream storing in storeDir, on a free loopback port. */
  static async start(storeDir: string, port?: number, extraArgs: readonly string[] = []): Promise<NatsTestServer> {
    const server = new NatsTestServer(port ?? (await freePort()), storeDir, extraArgs);
    await server.launch();
    return server;
  }

  /** What the server printed since it last started. */
  get output(): string {
    return this.log;
  }

  private async launch(): Promise<void> {
    if (!NATS_SERVER) throw new Error(SKIP_NATS);
    this.log = '';
    const child = spawn(NATS_SERVER, ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port), ...this.extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.log += d.toString()));
    const deadline = Date.now() + 15_000;
    while (!this.log.includes('Server is ready')) {
      if (child.exitCode !== null) throw new Error(`nats-server exited ${child.exitCode}: ${this.log}`);
      if (Date.now() > deadline) throw new Error(`nats-server not ready after 15 s: ${this.log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** kill -9: no chance to flush anything. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }

  /** Starts it again on the same port and store folder. */
  restart(): Promise<void> {
    return this.launch();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }
}

/** The client's servers of a `url` (a comma-separated list of `nats://host:port`). */
const clientServers = (url: string): string[] => url.split(',').map((u) => u.trim().replace(/^nats:\/\//, ''));

/**
 * A JetStream request, again while it times out (for up to 60 s): a cluster that lost a server takes a few seconds to
 * elect leaders and may place a consumer on the lost server first.
 */
async function untilAnswered<T>(request: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await request();
    } catch (error) {
      if ((error as Error).name !== 'TimeoutError' || Date.now() > deadline) throw error;
    }
  }
}

/**
 * Three JetStream servers of one cluster on loopback ports (`-n`, `--cluster_name`, `--cluster`, `--routes` to the
 * others), each storing in a folder of its own under storeRoot; started once JetStream answers (a metadata leader).
 */
export class NatsTestCluster {
  private constructor(readonly servers: readonly NatsTestServer[]) {}

  /** Every member's URL, comma-separated: what `--source` / `--sink` take. */
  get url(): string {
    return this.servers.map((s) => s.url).join(',');
  }

  /** The member whose URL is `url` (`nats://127.0.0.1:port`). */
  member(url: string): NatsTestServer {
    const server = this.servers.find((s) => s.url === url);
    if (!server) throw new Error(`${url} is not a member of the cluster ${this.url}`);
    return server;
  }

  static async start(storeRoot: string, size = 3): Promise<NatsTestCluster> {
    // freePort closes what it found: ask for them all (distinct) before any server takes one.
    const free = new Set<number>();
    while (free.size < 2 * size) free.add(await freePort());
    const ports = [...free].slice(0, size);
    const routePorts = [...free].slice(size);
    const route = (port: number): string => `nats://127.0.0.1:${port}`;
    const servers = await Promise.all(
      ports.map((port, i) => {
        const name = `n${i}`;
        const routes = routePorts
          .filter((_, j) => j !== i)
          .map(route)
          .join(',');
        return NatsTestServer.start(`${storeRoot}/${name}`, port, ['-n', name, '--cluster_name', 'lf', '--cluster', route(routePorts[i]!), '--routes', routes]);
      }),
    );
    const cluster = new NatsTestCluster(servers);
    await cluster.whenJetStreamAnswers();
    return cluster;
  }

  /** Waits (up to 60 s) until JetStream answers through every member: the cluster has a metadata leader. */
  async whenJetStreamAnswers(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (const server of this.servers) {
      for (;;) {
        try {
          const nc = await connect({ servers: clientServers(server.url), timeout: 2_000 });
          try {
            await (await jetstreamManager(nc, { timeout: 2_000 })).getAccountInfo();
            break;
          } finally {
            await nc.close();
          }
        } catch (error) {
          if (Date.now() > deadline)
            throw new Error(`JetStream of the cluster ${this.url} does not answer after 60 s: ${(error as Error).message}\n${server.output}`, { cause: error });
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

/** How many servers hold a stream's consumer (its leader and replicas), as the consumer's info says. */
export async function consumerPeers(url: string, stream: string, consumer: string): Promise<number> {
  const nc = await connect({ servers: clientServers(url), timeout: 5_000 });
  try {
    const manager = await jetstreamManager(nc);
    const info = await untilAnswered(() => manager.consumers.info(stream, consumer));
    return 1 + (info.cluster?.replicas?.length ?? 0);
  } finally {
    await nc.close();
  }
}

/** Every message a stream holds now, in stream order: its seq, subject and payload text. */
export async function streamMessages(url: string, stream: string): Promise<{ seq: number; subject: string; text: string }[]> {
  const nc = await connect({ servers: clientServers(url), timeout: 5_000 });
  try {
    const jsm = await untilAnswered(() => jetstreamManager(nc));
    const { last_seq: last, messages: count } = (await untilAnswered(() => jsm.streams.info(stream))).state;
    const out: { seq: number; subject: string; text: string }[] = [];
    if (count === 0) return out;
    const consumer = await untilAnswered(() => jetstream(nc).consumers.get(stream));
    while (out.length < count) {
      const batch = await consumer.fetch({ max_messages: 1_000, expires: 2_000 });
      let got = 0;
      for await (const m of batch) {
        out.push({ seq: m.seq, subject: m.subject, text: m.string() });
        got++;
        if (m.seq >= last) break;
      }
      if (got === 0 || out.at(-1)!.seq >= last) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Publishes a payload with a message id straight to JetStream (a producer other than gen-stream); returns its ack. */
export async function publishWithId(url: string, subject: string, text: string, messageId: string): Promise<{ seq: number; duplicate: boolean }> {
  const nc = await connect({ servers: clientServers(url), timeout: 5_000 });
  try {
    const ack = await jetstream(nc).publish(subject, text, { msgID: messageId });
    return { seq: ack.seq, duplicate: ack.duplicate };
  } finally {
    await nc.close();
  }
}

/** Publishes many payloads (ids `<prefix>-<i>`) over one connection, a few hundred in flight at a time. */
export async function publishMany(url: string, subject: string, texts: readonly string[], idPrefix: string): Promise<void> {
  const nc = await connect({ servers: clientServers(url), timeout: 5_000 });
  try {
    const js = jetstream(nc);
    for (let i = 0; i < texts.length; i += 500) {
      await Promise.all(texts.slice(i, i + 500).map((text, j) => js.publish(subject, text, { msgID: `${idPrefix}-${i + j}` })));
    }
  } finally {
    await nc.close();
  }
}
