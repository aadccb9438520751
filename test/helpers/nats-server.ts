// A NATS server for tests: Debian's nats-server with JetStream on a free loopback port and a store folder of the
// test's own; stopped, killed (kill -9) and restarted on the same port and store. Also an independent reader of
// what a stream holds (the NATS client library, not src/), to recount what was published.

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
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts a server with JetStream storing in storeDir, on a free loopback port. */
  static async start(storeDir: string): Promise<NatsTestServer> {
    const server = new NatsTestServer(await freePort(), storeDir);
    await server.launch();
    return server;
  }

  private async launch(): Promise<void> {
    if (!NATS_SERVER) throw new Error(SKIP_NATS);
    this.log = '';
    const child = spawn(NATS_SERVER, ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
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

/** Every message a stream holds now, in stream order: its seq, subject and payload text. */
export async function streamMessages(url: string, stream: string): Promise<{ seq: number; subject: string; text: string }[]> {
  const nc = await connect({ servers: url.replace(/^nats:\/\//, ''), timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc);
    const { last_seq: last, messages: count } = (await jsm.streams.info(stream)).state;
    const out: { seq: number; subject: string; text: string }[] = [];
    if (count === 0) return out;
    const consumer = await jetstream(nc).consumers.get(stream);
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
  const nc = await connect({ servers: url.replace(/^nats:\/\//, ''), timeout: 5_000 });
  try {
    const ack = await jetstream(nc).publish(subject, text, { msgID: messageId });
    return { seq: ack.seq, duplicate: ack.duplicate };
  } finally {
    await nc.close();
  }
}

/** Publishes many payloads (ids `<prefix>-<i>`) over one connection, a few hundred in flight at a time. */
export async function publishMany(url: string, subject: string, texts: readonly string[], idPrefix: string): Promise<void> {
  const nc = await connect({ servers: url.replace(/^nats:\/\//, ''), timeout: 5_000 });
  try {
    const js = jetstream(nc);
    for (let i = 0; i < texts.length; i += 500) {
      await Promise.all(texts.slice(i, i + 500).map((text, j) => js.publish(subject, text, { msgID: `${idPrefix}-${i + j}` })));
    }
  } finally {
    await nc.close();
  }
}
