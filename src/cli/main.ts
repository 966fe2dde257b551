/**
 * moe-studio CLI: the core from Node. `moe-studio <command> [args]`.
 *
 * Exit codes: 0 success, 1 a failed command (bad model, bad config, backend error),
 * 2 bad usage. Errors print one line `moe-studio: <message>`; --verbose adds the stack.
 */
import { pathToFileURL } from 'node:url';
import { UsageError } from './args.ts';
import { type ErrorKind, StudioError } from '../core/errors.ts';
import { EXPORT_USAGE, runExportCommand } from './commands/export.ts';
import { GENERATE_USAGE, runGenerateCommand } from './commands/generate.ts';
import { INSPECT_USAGE, runInspectCommand } from './commands/inspect.ts';
import { runMergeCommand } from './commands/merge.ts';
import { ROUTE_USAGE, runRouteCommand } from './commands/route.ts';
import { ENCODE_DEADLINE_ENV } from './load-model.ts';
import { ENCODE_DEADLINE_MS } from '../core/tokenizer/guard.ts';

interface Command {
  summary: string;
  usage: string;
  run: (argv: string[]) => Promise<number>;
}

export const COMMANDS: Record<string, Command> = {
  inspect: { summary: "show a model's spec, metadata and tensors", usage: INSPECT_USAGE, run: runInspectCommand },
  generate: {
    summary: 'generate text (cpu | wasm | webgpu), optionally tracing expert routing',
    usage: GENERATE_USAGE,
    run: runGenerateCommand,
  },
  route: {
    summary: 'show which experts every prompt token is routed to, layer by layer',
    usage: ROUTE_USAGE,
    run: runRouteCommand,
  },
  export: {
    summary: 'convert a model to GGUF or an HF safetensors folder',
    usage: EXPORT_USAGE,
    run: runExportCommand,
  },
  merge: {
    summary: 'build a frankenMoE from a mergekit-moe YAML config',
    usage: 'moe-studio merge CONFIG.yml OUT_DIR [flags]   (see `moe-studio merge --help`)',
    run: runMergeCommand,
  },
};

export function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'moe-studio — compose, run and inspect Mixture-of-Experts LLMs',
    '',
    'usage: moe-studio <command> [options]        moe-studio <command> --help',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'models: an HF folder (config.json + safetensors), a .gguf file, or a llama2.c .bin checkpoint',
    'global options: --help, --verbose (stack traces on errors)',
    `environment: ${ENCODE_DEADLINE_ENV}=N  end a tokenizer encode or chat-template render after N ms (default ${ENCODE_DEADLINE_MS})`,
  ].join('\n');
}

/** What a Node system error means for the user, by `code` (ENOENT …); the path is added by errorLine. */
const SYSTEM_ERRORS: ReadonlyMap<string, string> = new Map([
  ['ENOENT', 'no such file or directory (check the path)'],
  ['EISDIR', 'is a folder, expected a file (name a file inside it)'],
  ['ENOTDIR', 'a part of the path is a file, not a folder (check the path)'],
  ['EACCES', 'permission denied (check the file permissions)'],
  ['EPERM', 'operation not permitted (check the file permissions)'],
  ['EEXIST', 'already exists (choose another name or remove it)'],
  ['ENOSPC', 'no space left on the device (free some space and run again)'],
  ['EROFS', 'the file system is read-only (write somewhere else)'],
  ['EMFILE', 'too many open files (close other programs or raise ulimit -n)'],
  ['ENAMETOOLONG', 'the path is too long'],
]);

/**
 * The one line printed for an error: typed errors (StudioError kinds, UsageError) as they
 * are; Node system errors as `path: what it means (what to do)`; anything else is our bug and
 * says so. Never more than one line: engine messages can span many (a WGSL compile log).
 */
export function errorLine(error: unknown): string {
  const err = error instanceof Error ? error : new Error(String(error));
  const firstLine = (err.message.split('\n')[0] ?? '').slice(0, 2000);
  const code = (err as { code?: unknown }).code;
  const meaning = typeof code === 'string' ? SYSTEM_ERRORS.get(code) : undefined;
  if (meaning !== undefined) {
    const path = (err as { path?: unknown }).path;
    return `moe-studio: ${typeof path === 'string' ? path : firstLine}: ${meaning}`;
  }
  if (isStudioError(err) || err.name === 'UsageError') {
    const kind = err.name !== 'UsageError' ? `${err.name}: ` : '';
    return `moe-studio: ${kind}${firstLine}`;
  }
  return `moe-studio: internal error: ${err.name}: ${firstLine} (please report it; --verbose prints the stack)`;
}

function isStudioError(err: Error): boolean {
  return err instanceof StudioError || STUDIO_ERROR_NAMES.has(err.name);
}

/** Kinds that arrive by name only (across comlink or from a worker). */
const STUDIO_ERROR_NAMES: ReadonlySet<string> = new Set<ErrorKind>([
  'FormatError',
  'ConfigError',
  'MissingFileError',
  'StoreError',
  'HubError',
  'BackendError',
  'CancelledError',
]);

function printError(error: unknown, verbose: boolean): void {
  process.stderr.write(`${errorLine(error)}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}

/** Runs one CLI invocation; returns the exit code (never calls process.exit). */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = topic === undefined || !Object.hasOwn(COMMANDS, topic) ? undefined : COMMANDS[topic];
    process.stdout.write(`${command ? command.usage : helpText()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined; // "constructor" is no command
  if (!command) {
    process.stderr.write(
      `moe-studio: unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')}; see --help)\n`,
    );
    return 2;
  }
  if (name !== 'merge' && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    printError(error, verbose);
    return error instanceof UsageError ? 2 : 1;
  }
}

/** Runs main and exits, flushing stdout first (used by bin/moe-studio.mjs and `npm run cli`). */
export async function runCli(argv: string[]): Promise<void> {
  const code = await main(argv);
  process.exitCode = code;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) await runCli(process.argv.slice(2));
