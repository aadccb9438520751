// The command line: commander definitions, option resolution at the boundary, and error → exit code mapping.

import { Command, CommanderError, Option } from 'commander';
import { LambdaflowError, exitCodeFor } from '../core/errors.js';
import { type Logger, createLogger } from '../io/logger.js';
import { dataLayout } from '../io/layout.js';
import { type GlobalConfig, type RawOptions, resolveGlobal } from './options.js';
import { COMMANDS } from './commands.js';

export interface CommandContext {
  readonly global: GlobalConfig;
  readonly layout: ReturnType<typeof dataLayout>;
  readonly logger: Logger;
  /** Aborted on SIGINT/SIGTERM: long-running commands flush, publish and return. */
  readonly signal: AbortSignal;
  readonly print: (line: string) => void;
}

export interface CommandSpec {
  readonly name: string;
  readonly description: string;
  readonly options: readonly Option[];
  /** Runs until stopped: SIGINT/SIGTERM ask it to flush, publish and return (others just end at once). */
  readonly longRunning?: boolean;
  /** The command parses --threads itself (bench takes a list), so global resolution leaves it alone. */
  readonly ownsThreadsOption?: boolean;
  readonly run: (context: CommandContext, raw: RawOptions) => Promise<void>;
}

function globalOptions(): Option[] {
  return [
    new Option('--data <dir>', 'data folder (default: ./data)'),
    new Option('--threads <n>', 'worker threads (default: available parallelism)'),
    new Option('--log-level <level>', 'error, warn, info or debug (default: info)'),
    new Option('--mode <mode>', 'bad rows: permissive (quarantine), drop (count only), failfast (exit 2) (default: permissive)'),
  ];
}

function definedOnly(options: Record<string, unknown>): RawOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RawOptions;
}

/** Runs the CLI and resolves to the process exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = new Command('lambdaflow')
    .description('A Lambda Architecture (batch, speed and serving layers) in one Node.js process')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  for (const option of globalOptions()) program.addOption(option);

  let selected: { spec: CommandSpec; raw: RawOptions } | undefined;
  for (const spec of COMMANDS) {
    const command = program.command(spec.name).description(spec.description).exitOverride();
    for (const option of [...spec.options, ...globalOptions()]) command.addOption(option);
    command.action((_options: unknown, cmd: Command) => {
      selected = { spec, raw: { ...definedOnly(program.opts()), ...definedOnly(cmd.opts()) } };
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  if (!selected) {
    program.outputHelp();
    return 2;
  }

  const controller = new AbortController();
  const stop = (): void => controller.abort();
  if (selected.spec.longRunning) {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
  try {
    const global = resolveGlobal(selected.spec.ownsThreadsOption ? { ...selected.raw, threads: undefined } : selected.raw);
    const context: CommandContext = {
      global,
      layout: dataLayout(global.data),
      logger: createLogger(global.logLevel),
      signal: controller.signal,
      print: (line) => process.stdout.write(`${line}\n`),
    };
    await selected.spec.run(context, selected.raw);
    return 0;
  } catch (error) {
    const code = error instanceof LambdaflowError ? error.code : 'E_UNEXPECTED';
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`lambdaflow ${selected.spec.name}: error [${code}]: ${message}\n`);
    if (!(error instanceof LambdaflowError) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCodeFor(error);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
