/**
 * moe-studio CLI: the core from Node. `moe-studio <command> [args]`.
 *
 * Exit codes: 0 success, 1 a failed command (bad model, bad config, backend error),
 * 2 bad usage. Errors print one line `moe-studio: <message>`; --verbose adds the stack.
 */
import { pathToFileURL } from 'node:url';
import { UsageError } from './args.ts';
import { EXPORT_USAGE, runExportCommand } from './commands/export.ts';
import { GENERATE_USAGE, runGenerateCommand } from './commands/generate.ts';
import { INSPECT_USAGE, runInspectCommand } from './commands/inspect.ts';
import { runMergeCommand } from './commands/merge.ts';
import { ROUTE_USAGE, runRouteCommand } from './commands/route.ts';

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
  ].join('\n');
}

function printError(error: unknown, verbose: boolean): void {
  const err = error instanceof Error ? error : new Error(String(error));
  const kind = err.name && err.name !== 'Error' && err.name !== 'UsageError' ? `${err.name}: ` : '';
  const firstLine = err.message.split('\n')[0];
  process.stderr.write(`moe-studio: ${kind}${firstLine}\n`);
  if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
}

/** Runs one CLI invocation; returns the exit code (never calls process.exit). */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = topic === undefined ? undefined : COMMANDS[topic];
    process.stdout.write(`${command ? command.usage : helpText()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
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
