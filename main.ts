#!/usr/bin/env node
// lambdaflow's entry point: `node dist/main.js <command> [options]`.

import { runCli } from './src/cli/cli.js';

process.exitCode = await runCli(process.argv.slice(2));
