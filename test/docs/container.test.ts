// The Dockerfile and docker-compose.yml, checked where no container engine runs: the base image, the build steps,
// the default command and the data volume; and every lambdaflow command they run (and docs/scaling-out.md shows) is
// shown verbatim in that section and made of flags the CLI's `--help` lists, with a value exactly where it takes one.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAIN } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (name: string): string => fs.readFileSync(path.join(ROOT, name), 'utf8');

/** Flags of the NATS JetStream source (docs/scaling-out.md). */
const NATS_FLAGS = ['--source', '--sink', '--nats-stream', '--nats-subject', '--nats-consumer', '--nats-partitions', '--nats-replicas', '--partition'];
/** The compose file's NATS cluster, as --source / --sink list it. */
const NATS_MEMBERS = ['nats-1', 'nats-2', 'nats-3'];
const NATS_CLUSTER = NATS_MEMBERS.map((name) => `nats://${name}:4222`).join(',');
const LAMBDAFLOW = 'node dist/main.js';

// ---------------------------------------------------------------------------------------------------------------
// Dockerfile: instructions with their continuation lines joined, comments dropped.

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** 0 for the first FROM's stage, and so on. */
  readonly stage: number;
}

function dockerfileInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const line of text.split('\n')) {
    if (line.trim().startsWith('#') || line.trim() === '') continue;
    pending += line.endsWith('\\') ? `${line.slice(0, -1)} ` : line;
    if (line.endsWith('\\')) continue;
    const [, keyword, args] = /^\s*(\w+)\s+(.*)$/.exec(pending)!;
    if (keyword!.toUpperCase() === 'FROM') stage++;
    instructions.push({ keyword: keyword!.toUpperCase(), args: args!.trim(), stage });
    pending = '';
  }
  return instructions;
}

// ---------------------------------------------------------------------------------------------------------------
// docker-compose.yml: the subset of YAML it is written in (no new dependency), read line by line. Anything else is
// an error here, so a compose file that outgrows the subset fails loudly rather than being half-read.

type ComposeValue = string | string[];
interface Compose {
  services: Map<string, Map<string, ComposeValue>>;
  volumes: string[];
}

const unquote = (value: string): string => value.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');

function parseCompose(text: string): Compose {
  const compose: Compose = { services: new Map(), volumes: [] };
  let section = '';
  let service: Map<string, ComposeValue> | undefined;
  let listKey = '';
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || line.trim().startsWith('#')) return;
    const fail = (): never => {
      throw new Error(`docker-compose.yml line ${i + 1} is outside the YAML subset this test reads: ${JSON.stringify(line)}`);
    };
    const indent = line.length - line.trimStart().length;
    const item = /^\s+- (.+)$/.exec(line);
    const pair = /^\s*([\w.-]+):(?: (.*))?$/.exec(line);
    if (indent === 0 && pair && pair[2] === undefined) {
      section = pair[1]!;
    } else if (indent === 2 && pair && pair[2] === undefined && section === 'services') {
      service = new Map();
      compose.services.set(pair[1]!, service);
    } else if (indent === 2 && pair && pair[2] === undefined && section === 'volumes') {
      compose.volumes.push(pair[1]!);
    } else if (indent === 4 && pair && service) {
      listKey = pair[1]!;
      service.set(listKey, pair[2] === undefined ? [] : unquote(pair[2]));
    } else if (indent === 6 && item && service && Array.isArray(service.get(listKey))) {
      (service.get(listKey) as string[]).push(unquote(item[1]!));
    } else {
      fail();
    }
  });
  return compose;
}

const asList = (value: ComposeValue | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

// ---------------------------------------------------------------------------------------------------------------
// Command lines and the CLI's help.

interface CommandLine {
  /** Where it was found, for test names. */
  readonly where: string;
  readonly text: string;
  readonly command: string;
  /** Tokens after the command name. */
  readonly args: string[];
}

function commandLine(where: string, text: string): CommandLine {
  if (!text.startsWith(`${LAMBDAFLOW} `)) throw new Error(`${where}: ${JSON.stringify(text)} is not a \`${LAMBDAFLOW} <command>\` line`);
  const [command, ...args] = text.slice(LAMBDAFLOW.length).trim().split(/\s+/);
  return { where, text, command: command!, args };
}

/** `node dist/main.js …` command lines in a README section: in code blocks and inline code, up to a comment. */
function readmeCommandLines(section: string): string[] {
  return [...section.matchAll(/node dist\/main\.js[^`\n#]*/g)].map((m) => m[0].trim());
}

interface HelpFlag {
  readonly takesValue: boolean;
}

const helpCache = new Map<string, Map<string, HelpFlag> | string>();

/** The flags `node dist/main.js <command> --help` lists, or why it could not say. */
function helpFlags(command: string): Map<string, HelpFlag> | string {
  if (!helpCache.has(command)) {
    if (!fs.existsSync(MAIN)) {
      helpCache.set(command, `${MAIN} is missing: run \`npx tsc -p tsconfig.json\` (npm test builds first)`);
    } else {
      const run = spawnSync(process.execPath, [MAIN, command, '--help'], { encoding: 'utf8' });
      if (run.status !== 0) {
        helpCache.set(command, `\`${LAMBDAFLOW} ${command} --help\` exited ${run.status}: ${run.stderr.trim()}`);
      } else {
        const flags = new Map<string, HelpFlag>();
        // An option's first line names it; a wrapped description line may start with another option's name.
        for (const m of run.stdout.matchAll(/^\s+(?:-\w, )?(--[a-z0-9-]+)( <[^>]+>)?/gm)) {
          if (!flags.has(m[1]!)) flags.set(m[1]!, { takesValue: m[2] !== undefined });
        }
        helpCache.set(command, flags);
      }
    }
  }
  return helpCache.get(command)!;
}

/** The flags a command line uses, with the token after each. */
function usedFlags(line: CommandLine): { flag: string; next: string | undefined }[] {
  return line.args.flatMap((token, i) => (token.startsWith('--') ? [{ flag: token, next: line.args[i + 1] }] : []));
}

// ---------------------------------------------------------------------------------------------------------------

const dockerfile = dockerfileInstructions(read('Dockerfile'));
const finalStage = Math.max(...dockerfile.map((i) => i.stage));
const cmd = dockerfile.filter((i) => i.keyword === 'CMD').at(-1);
const defaultCommand = cmd === undefined ? '' : (JSON.parse(cmd.args) as string[]).join(' ');
const compose = parseCompose(read('docker-compose.yml'));
const lambdaflowServices = [...compose.services].filter(([, s]) => s.has('build'));
const scalingOut = read('docs/scaling-out.md');

describe('Dockerfile', () => {
  const index = (keyword: string, args: RegExp): number => dockerfile.findIndex((i) => i.keyword === keyword && args.test(i.args));

  it('builds and runs on node:20-bookworm-slim, in /app', () => {
    const from = dockerfile.filter((i) => i.keyword === 'FROM');
    expect(from.length).toBeGreaterThan(0);
    for (const f of from) expect(f.args).toMatch(/^node:20-bookworm-slim(?: AS \w+)?$/i);
    for (let stage = 0; stage <= finalStage; stage++) expect(dockerfile.find((i) => i.stage === stage && i.keyword === 'WORKDIR')?.args).toBe('/app');
  });

  it('installs from the lockfile with npm ci, then copies the sources and builds with npm run build', () => {
    const copyManifests = index('COPY', /^package\.json package-lock\.json /);
    const ci = index('RUN', /^npm ci\b/);
    const sources = ['src', 'workers', 'bench', 'main.ts', 'tsconfig.json'].map((name) =>
      index('COPY', new RegExp(`(^|\\s)${name.replace('.', '\\.')}(\\s|$)`)),
    );
    const build = index('RUN', /^npm run build\b/);
    expect(copyManifests).toBeGreaterThanOrEqual(0);
    expect(ci).toBeGreaterThan(copyManifests);
    for (const source of sources) expect(source).toBeGreaterThan(ci);
    expect(build).toBeGreaterThan(Math.max(...sources));
    expect((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.build).toBe('tsc -p tsconfig.json');
  });

  it("keeps the data folder in the /data volume, exposes the HTTP port and runs the README's `all` command by default", () => {
    const final = dockerfile.filter((i) => i.stage === finalStage);
    expect(final.find((i) => i.keyword === 'VOLUME')?.args).toBe('/data');
    expect(final.find((i) => i.keyword === 'EXPOSE')?.args).toBe('8080');
    expect(cmd?.stage).toBe(finalStage);
    expect(defaultCommand).toBe('node dist/main.js all --data /data --host 0.0.0.0');
    expect(scalingOut).toContain(defaultCommand);
  });

  it('.dockerignore keeps local state out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const name of ['node_modules', 'dist', 'data', 'test-results', '.git']) expect(ignored).toContain(name);
  });
});

describe('docker-compose.yml', () => {
  const service = (name: string): Map<string, ComposeValue> => {
    const s = compose.services.get(name);
    if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
    return s;
  };
  const commandOf = (name: string): CommandLine => commandLine(`docker-compose.yml ${name}`, service(name).get('command') as string);
  const valueOf = (line: CommandLine, flag: string): string | undefined => usedFlags(line).find((f) => f.flag === flag)?.next;

  it('has the services nats-1 to nats-3, pipeline, serve and producer; every named volume is declared', () => {
    expect([...compose.services.keys()].sort()).toEqual([...NATS_MEMBERS, 'pipeline', 'producer', 'serve']);
    const named = [...compose.services.values()]
      .flatMap((s) => asList(s.get('volumes')))
      .map((v) => v.split(':')[0]!)
      .filter((v) => !v.startsWith('.') && !v.startsWith('/'));
    for (const volume of named) expect(compose.volumes).toContain(volume);
  });

  it('runs a cluster of three NATS servers with JetStream, each storing its streams in a volume of its own, routed to the other two', () => {
    for (const name of NATS_MEMBERS) {
      const nats = service(name);
      expect(nats.get('image')).toMatch(/^nats:(2\.10|2\.9-alpine)$/);
      const routes = NATS_MEMBERS.filter((other) => other !== name)
        .map((other) => `nats://${other}:6222`)
        .join(',');
      expect(nats.get('command')).toBe(`-js -sd /data -n ${name} --cluster_name lambdaflow --cluster nats://0.0.0.0:6222 --routes ${routes}`);
      expect(asList(nats.get('volumes'))).toContain(`${name}:/data`);
    }
    expect(scalingOut).toContain('-js -sd /data');
  });

  it('builds every other service from this Dockerfile, and runs a lambdaflow command the README shows verbatim', () => {
    expect(lambdaflowServices.map(([name]) => name).sort()).toEqual(['pipeline', 'producer', 'serve']);
    for (const [name, s] of lambdaflowServices) {
      expect(s.get('build'), name).toBe('.');
      const line = commandOf(name);
      expect(scalingOut, `docs/scaling-out.md must show \`${line.text}\``).toContain(line.text);
    }
  });

  it('the pipeline runs `all` on the shared data volume, reading the stream from the nats service, without HTTP', () => {
    const line = commandOf('pipeline');
    expect(line.command).toBe('all');
    expect(valueOf(line, '--data')).toBe('/data');
    expect(asList(service('pipeline').get('volumes'))).toContain('data:/data');
    expect(valueOf(line, '--source')).toBe(NATS_CLUSTER);
    expect(valueOf(line, '--nats-replicas')).toBe('3');
    expect(line.args).toContain('--no-http');
    expect(asList(service('pipeline').get('depends_on'))).toEqual(NATS_MEMBERS);
  });

  it('serve listens on all interfaces at the port it publishes (the one the image exposes), on the same data volume', () => {
    const line = commandOf('serve');
    expect(line.command).toBe('serve');
    expect(valueOf(line, '--host')).toBe('0.0.0.0');
    const port = valueOf(line, '--port');
    expect(asList(service('serve').get('ports'))).toEqual([`${port}:${port}`]);
    expect(dockerfile.find((i) => i.keyword === 'EXPOSE')?.args).toBe(port);
    expect(valueOf(line, '--data')).toBe('/data');
    expect(asList(service('serve').get('volumes'))).toContain('data:/data');
    expect(asList(service('serve').get('depends_on'))).toContain('pipeline');
  });

  it('the producer publishes generated events to the nats service', () => {
    const line = commandOf('producer');
    expect(line.command).toBe('gen-stream');
    expect(valueOf(line, '--sink')).toBe(NATS_CLUSTER);
    expect(valueOf(line, '--nats-replicas')).toBe('3');
    expect(asList(service('producer').get('depends_on'))).toEqual(NATS_MEMBERS);
  });
});

// Every lambdaflow command line of the Dockerfile, the compose file and docs/scaling-out.md, once each (the README
// shows the others' too), flag by flag.
const commandLines: CommandLine[] = [
  commandLine('Dockerfile CMD', defaultCommand),
  ...lambdaflowServices.map(([name, s]) => commandLine(`docker-compose.yml ${name}`, s.get('command') as string)),
  ...readmeCommandLines(scalingOut).map((text) => commandLine('docs/scaling-out.md', text)),
].filter((line, i, all) => all.findIndex((other) => other.text === line.text) === i);

describe('the flags of every command line exist in the CLI (`<command> --help`)', () => {
  it('finds the command lines', () => {
    expect(commandLines.length).toBeGreaterThanOrEqual(10);
    expect(new Set(commandLines.map((l) => l.command))).toEqual(new Set(['all', 'serve', 'gen-stream', 'speed', 'batch']));
  });

  for (const line of commandLines) {
    const help = helpFlags(line.command);
    it(`${line.where}: \`${line.text}\` names a command`, () => {
      if (typeof help === 'string') expect.fail(help);
    });
    if (typeof help === 'string') continue;
    for (const { flag, next } of usedFlags(line)) {
      const known = help.get(flag);
      it(`${line.where}: \`${line.text}\`: ${flag} is in --help${known === undefined ? '' : known.takesValue ? ' and gets a value' : ' and takes no value'}`, () => {
        expect(known, `${flag} is not an option of \`${LAMBDAFLOW} ${line.command}\` (in \`${line.text}\`)`).toBeDefined();
        if (known!.takesValue) expect(next !== undefined && !next.startsWith('--'), `${flag} needs a value in \`${line.text}\``).toBe(true);
        else expect(next === undefined || next.startsWith('--'), `${flag} takes no value in \`${line.text}\``).toBe(true);
      });
    }
  }
});

describe("the NATS JetStream source's flags (docs/scaling-out.md)", () => {
  const natsCommands = ['speed', 'all', 'gen-stream'];
  for (const flag of NATS_FLAGS) {
    const offeredBy = natsCommands.filter((command) => {
      const help = helpFlags(command);
      return typeof help !== 'string' && help.has(flag);
    });
    it(`${flag} is an option of ${offeredBy.join(', ') || 'none of ' + natsCommands.join(', ')}, and the README names it`, () => {
      expect(offeredBy.length).toBeGreaterThan(0);
      expect(scalingOut).toContain(flag);
    });
  }
});
