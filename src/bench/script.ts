// Entry wrapper for the bench scripts: like the CLI, one clear error line and a non-zero exit code, never a stack trace.

import { LambdaflowError, exitCodeFor } from '../core/errors.js';
import { ScriptHelp } from './script-options.js';

export function runScript(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof ScriptHelp) return void process.stdout.write(`usage: ${name} [options]\n${error.usage}\n`);
    const code = error instanceof LambdaflowError ? ` [${error.code}]` : '';
    process.stderr.write(`${name}: error${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = exitCodeFor(error);
  });
}
