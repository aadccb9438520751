// The command line: commander definitions, option resolution at the boundary, and error → exit code mapping.

import { Command, CommanderError } from 'commander';
import { LambdaflowError, exitCodeFor } from '../core/errors.js';
import { type RawOptions } from '../core/option-values.js';
import { dataLayout } from '../io/files/layout.js';
import { createLogger } from '../io/runtime/logger.js';
import { type CommandContext } from '../pipeline/context.js';
import { COMMANDS, type CommandSpec } from './commands.js';
import { globalFlags, resolveGlobal } from './options.js';

function definedOnly(options: Record<string, unknown>): RawOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RawOptions;
}

/** Runs the CLI and resolves to the process exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = new Command('lambdaflow')
    .description('A Lambda Architecture (batch, speed and serving layers) in one Node.js process')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  for (const option of globalFlags()) program.addOption(option);

  let selected: { spec: CommandSpec; raw: RawOptions } | undefined;
  for (const spec of COMMANDS) {
    const command = program.command(spec.name).description(spec.description).exitOverride();
    const globals = globalFlags().filter((option) => !(spec.ownsThreadsOption && option.long === '--threads'));
    for (const option of [...spec.options, ...globals]) command.addOption(option);
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
    // `on`, not `once`: write-file-atomic re-sends a signal that arrives mid-write when it finds no other listener,
    // which would kill the process instead of stopping it cleanly. A second signal just repeats the stop.
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
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
