// The command line: commander definitions, option resolution at the boundary, and error → exit code mapping.

import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, type Option } from 'commander';
import { LambdaflowError, exitCodeFor } from '../core/errors.js';
import { type RawOptions, optionError } from '../core/option-values.js';
import { dataLayout } from '../io/files/layout.js';
import { createLogger } from '../io/runtime/logger.js';
import { systemClock } from '../io/runtime/system-clock.js';
import { COMMANDS, type CliContext, type CommandSpec } from './commands.js';
import { globalFlags, resolveGlobal } from './options.js';
import { progressDisplay } from './progress.js';

const PROGRAM = 'lambdaflow';

function definedOnly(options: Record<string, unknown>): RawOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RawOptions;
}

/** package.json's version: two folders up from src/cli/ when run from source, three from dist/src/cli/. */
function packageVersion(): string {
  const here = new URL(import.meta.url);
  const file = new URL(here.pathname.endsWith('.ts') ? '../../package.json' : '../../../package.json', here);
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** A command line commander refused (an unknown option, a missing value): reported as E_OPTIONS, like a bad value. */
class UsageError extends LambdaflowError {
  constructor(
    readonly command: string | undefined,
    error: CommanderError,
  ) {
    // Commander's text: `error: unknown option '--x'`, with `\n(Did you mean --y?)` when it has a guess.
    super(
      'E_OPTIONS',
      error.message.replace(/^error: /, '').replace(/\s*\n\((Did you mean .+\?)\)/, (_match, guess: string) => `; ${guess.toLowerCase()}`),
      {},
      { cause: error },
    );
  }
}

/** Throws commander's refusals as UsageErrors naming the command; help and --version (exit code 0) end the run. */
function usageErrors(command: string | undefined): (error: CommanderError) => never {
  return (error) => {
    throw error.exitCode === 0 ? error : new UsageError(command, error);
  };
}

/** The one error line of a refused command line, with where to look; `command` is the one the line names, if any. */
function usageLine(error: UsageError, command: string | undefined): string {
  const prefix = command === undefined ? PROGRAM : `${PROGRAM} ${command}`;
  const help = command === undefined ? `${PROGRAM} --help lists the commands` : `${prefix} --help lists its options`;
  return `${prefix}: error [${error.code}]: ${error.message} (${help})\n`;
}

/**
 * A --data folder that does not exist is refused before the command writes anything there (every command records
 * the folder's bucket size, src/io/files/event-time-settings.ts): a typo must not start an empty folder and exit 0.
 * `--create` makes it.
 */
function checkDataFolder(dir: string, create: boolean): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw optionError('data', `cannot use ${dir}: ${(error as Error).message}`, error);
    const where = path.resolve(dir) === dir ? dir : `${dir} (${path.resolve(dir)})`;
    if (!create) throw optionError('data', `there is no data folder ${where}; to start one there, add --create (gen-batch and all also create it)`);
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw new LambdaflowError('E_WRITE', `cannot create the data folder ${dir}: ${(cause as Error).message}`, { file: dir }, { cause });
    }
    return;
  }
  if (!stat.isDirectory()) throw optionError('data', `${dir} is not a folder`);
}

/** A command's own flag of a global flag's name (bench's --threads list, soak's and bench's --data) replaces it. */
function commandOptions(spec: CommandSpec): Option[] {
  const own = new Set(spec.options.map((option) => option.long));
  return [...spec.options, ...globalFlags(spec.dataFolder).filter((option) => !own.has(option.long))];
}

/** Runs the CLI and resolves to the process exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = new Command(PROGRAM)
    .description('A Lambda Architecture (batch, speed and serving layers) in one Node.js process')
    .version(packageVersion(), '-V, --version', 'print the version of lambdaflow')
    .exitOverride(usageErrors(undefined))
    .configureOutput({ writeErr: (text) => process.stderr.write(text), outputError: () => {} });
  for (const option of globalFlags()) program.addOption(option);

  let selected: { spec: CommandSpec; raw: RawOptions } | undefined;
  for (const spec of COMMANDS) {
    const command = program.command(spec.name).description(spec.description).exitOverride(usageErrors(spec.name));
    for (const option of commandOptions(spec)) command.addOption(option);
    command.action((_options: unknown, cmd: Command) => {
      selected = { spec, raw: { ...definedOnly(program.opts()), ...definedOnly(cmd.opts()) } };
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (!(error instanceof UsageError)) throw error;
    // The program's own flags are read after a command name too, so a refusal of one may still belong to a command.
    process.stderr.write(usageLine(error, error.command ?? argv.find((arg) => COMMANDS.some((spec) => spec.name === arg))));
    return exitCodeFor(error);
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
    const { spec, raw } = selected;
    const global = resolveGlobal(spec.ownsThreadsOption ? { ...raw, threads: undefined } : raw);
    if (spec.dataFolder === 'existing' && !spec.leavesDataFolderAlone?.(raw)) checkDataFolder(global.data, raw.create === true);
    const progress = progressDisplay(process.stderr, systemClock);
    const context: CliContext = {
      global,
      layout: dataLayout(global.data),
      logger: createLogger(global.logLevel, (line) => progress.above(() => process.stderr.write(line))),
      signal: controller.signal,
      print: (line) => progress.above(() => process.stdout.write(`${line}\n`)),
      progress,
    };
    await spec.run(context, raw);
    return 0;
  } catch (error) {
    const code = error instanceof LambdaflowError ? error.code : 'E_UNEXPECTED';
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${PROGRAM} ${selected.spec.name}: error [${code}]: ${message}\n`);
    if (!(error instanceof LambdaflowError) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCodeFor(error);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
