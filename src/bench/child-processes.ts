// A benchmark's long-running child processes (services, load clients): started, awaited, stopped, and killed
// however the benchmark ends — an error, Ctrl-C, SIGTERM — so no serve or speed process outlives it.

import { type ChildProcess, fork, spawn } from 'node:child_process';
import readline from 'node:readline';
import { LambdaflowError } from '../core/errors.js';

/** How long a stopped child gets to exit after SIGTERM (serve writes merged_view.csv once more) before SIGKILL. */
const STOP_GRACE_MS = 20_000;
/** The end of a child's stderr kept for the error that reports its death. */
const STDERR_TAIL_CHARS = 2_000;

export class BenchChild {
  /** Rejects with E_WORKER (naming the child and its last stderr line) if it exits before `stop`; never resolves. */
  readonly failed: Promise<never>;
  private stopping = false;
  private stderrTail = '';
  private readonly exited: Promise<void>;
  private readonly lineListeners = new Set<(line: string) => void>();

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr?.on('data', (chunk: Buffer) => (this.stderrTail = (this.stderrTail + chunk.toString()).slice(-STDERR_TAIL_CHARS)));
    // Lines of both streams: services print their address on stdout, logs (nats-server's too) go to stderr.
    for (const stream of [child.stdout, child.stderr])
      if (stream) readline.createInterface({ input: stream }).on('line', (line) => this.lineListeners.forEach((listener) => listener(line)));
    this.failed = new Promise<never>((_resolve, reject) => {
      child.once('error', (error) => reject(new LambdaflowError('E_WORKER', `${name} could not start: ${error.message}`, {}, { cause: error })));
      child.once('exit', (code, signal) => {
        if (this.stopping) return;
        const lastLine = this.stderrTail.trim().split('\n').at(-1) ?? '';
        reject(new LambdaflowError('E_WORKER', `${name} exited early (${signal ?? `code ${code}`})${lastLine ? `: ${lastLine}` : ''}`));
      });
    });
    this.failed.catch(() => {}); // observed through races; an unobserved death is reported by whoever waits next
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first line (stdout or stderr) matching `pattern` (its match), or E_WORKER after `timeoutMs` or when the child dies. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    let listener: (line: string) => void = () => {};
    let timer: NodeJS.Timeout | undefined;
    const found = new Promise<RegExpMatchArray>((resolve, reject) => {
      listener = (line) => {
        const match = pattern.exec(line);
        if (match) resolve(match);
      };
      this.lineListeners.add(listener);
      timer = setTimeout(
        () => reject(new LambdaflowError('E_WORKER', `${this.name} printed no line matching ${pattern} within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    return Promise.race([found, this.failed]).finally(() => {
      this.lineListeners.delete(listener);
      clearTimeout(timer);
    });
  }

  /** The next IPC message (forked children), or the child's death. */
  nextMessage<T>(): Promise<T> {
    return Promise.race([new Promise<T>((resolve) => this.child.once('message', (message) => resolve(message as T))), this.failed]);
  }

  send(message: unknown): void {
    this.child.send(message as object);
  }

  /** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Every child a benchmark starts, stopped by `stopAll` and killed at exit or on SIGINT/SIGTERM. */
export class ChildProcesses {
  private readonly running = new Set<BenchChild>();

  constructor() {
    process.on('exit', () => this.running.forEach((running) => running.child.kill('SIGKILL')));
    for (const [signal, number] of [
      ['SIGINT', 2],
      ['SIGTERM', 15],
    ] as const) {
      process.once(signal, () => {
        process.stderr.write(`${signal}: stopping ${this.running.size} child process(es)\n`);
        void this.stopAll().finally(() => process.exit(128 + number));
      });
    }
  }

  private track(child: BenchChild): BenchChild {
    this.running.add(child);
    child.child.once('exit', () => this.running.delete(child));
    return child;
  }

  /** `command args` with its output readable line by line (`waitForLine`) and stderr kept for errors. */
  spawn(name: string, command: string, args: readonly string[]): BenchChild {
    return this.track(new BenchChild(name, spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] })));
  }

  /** A Node module with an IPC channel (structured clone, so typed arrays cross as they are). */
  fork(name: string, modulePath: string): BenchChild {
    return this.track(new BenchChild(name, fork(modulePath, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((child) => child.stop()));
  }
}
