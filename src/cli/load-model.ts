/**
 * The CLI's model argument: an HF folder (or its config.json / a .safetensors file inside it),
 * a `.gguf` file, or a llama2.c `.bin` checkpoint (its tokenizer: --tokenizer FILE, else a
 * tok*.bin / tokenizer.bin beside it).
 */
import { basename, dirname, extname, join } from 'node:path';
import { ConfigError, MissingFileError } from '../core/errors.ts';
import type { FileSet } from '../core/io/byte-source.ts';
import type { ModelLoadProgress as LoadProgress } from '../core/io/progress.ts';
import { type ExportableModel, type LoadedModel, loadModel, loadModelLazy } from '../core/model/load.ts';
import { ENCODE_DEADLINE_MS, type TokenizerGuard } from '../core/tokenizer/guard.ts';
import { UsageError } from './args.ts';
import { isDirectory, nodeDirFileSet, nodeFileSource, nodeSingleFileSet, pathExists } from './node-io.ts';
import { nodeTokenizerGuard } from './tokenizer-sandbox.ts';

export interface LoadModelOptions {
  /** llama2.c only: the tokenizer file (default: tok*.bin or tokenizer.bin beside the checkpoint). */
  tokenizer?: string;
  onProgress?: (progress: LoadProgress) => void;
  /** Where the HF tokenizer's untrusted calls run (loadModelArg: cliTokenizerGuard). */
  guardTokenizer?: TokenizerGuard;
}

/** Names the CLI's encode deadline in milliseconds (helpText); unset: ENCODE_DEADLINE_MS. */
export const ENCODE_DEADLINE_ENV = 'MOE_STUDIO_ENCODE_DEADLINE_MS';

/** The CLI's guard: every encode, decode and chat-template render in a sandbox thread, under the deadline. */
export function cliTokenizerGuard(): TokenizerGuard {
  const raw = process.env[ENCODE_DEADLINE_ENV];
  if (raw === undefined || raw === '') return nodeTokenizerGuard(ENCODE_DEADLINE_MS);
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms < 1)
    throw new UsageError(
      `${ENCODE_DEADLINE_ENV} must be a whole number of milliseconds ≥ 1, got ${JSON.stringify(raw)}`,
    );
  return nodeTokenizerGuard(ms);
}

export type ModelArgKind = 'hf' | 'gguf' | 'llama2c';

export async function modelArgKind(arg: string): Promise<ModelArgKind> {
  if (await isDirectory(arg)) return 'hf';
  if (!(await pathExists(arg))) throw new MissingFileError(arg);
  const ext = extname(arg).toLowerCase();
  if (ext === '.gguf') return 'gguf';
  if (
    (ext === '.safetensors' || basename(arg) === 'config.json') &&
    (await pathExists(join(dirname(arg), 'config.json')))
  )
    return 'hf';
  if (ext === '.bin') return 'llama2c';
  throw new ConfigError(`${arg}: not a model (expected an HF folder, a .gguf file or a llama2.c .bin checkpoint)`);
}

/** A one-line loading meter on stderr when it is a terminal (nothing otherwise, e.g. in tests). */
export function terminalProgress(): ((progress: LoadProgress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let shown = -1;
  return (p) => {
    if (p.phase === 'tensors' && p.bytesTotal > 0) {
      const percent = Math.floor((100 * p.bytesDone) / p.bytesTotal);
      if (percent === shown) return;
      shown = percent;
      process.stderr.write(
        `\rloading ${percent}% (${(p.bytesDone / 1e6).toFixed(1)} / ${(p.bytesTotal / 1e6).toFixed(1)} MB)`,
      );
    } else if (p.phase === 'done') {
      process.stderr.write('\r\x1b[K');
    }
  };
}

/**
 * The model argument as the FileSet loadModel reads (the core decides the format from its files),
 * its tokenizer guarded (cliTokenizerGuard) for the commands that encode.
 */
export async function loadModelArg(arg: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const { files, load } = await modelArgFiles(arg, { guardTokenizer: cliTokenizerGuard(), ...options });
  return loadModel(files, load);
}

/**
 * loadModelArg for exports and sessions: an HF folder's or a GGUF's tensors are read when the exporter or the
 * backend reaches them (loadModelLazy). No tokenizer guard unless given: generate and route pass cliTokenizerGuard.
 */
export async function loadModelArgLazy(arg: string, options: LoadModelOptions = {}): Promise<ExportableModel> {
  const { files, load } = await modelArgFiles(arg, options);
  return loadModelLazy(files, load);
}

/** The model argument's files and how loadModel should read them (also the library API's Node engine). */
export async function modelArgFiles(
  arg: string,
  options: LoadModelOptions,
): Promise<{ files: FileSet; load: Parameters<typeof loadModel>[1] }> {
  switch (await modelArgKind(arg)) {
    case 'hf':
      return {
        files: nodeDirFileSet((await isDirectory(arg)) ? arg : dirname(arg)),
        load: { onProgress: options.onProgress, guardTokenizer: options.guardTokenizer },
      };
    case 'gguf':
      return { files: nodeSingleFileSet(arg), load: { guardTokenizer: options.guardTokenizer } };
    case 'llama2c': {
      if (!options.tokenizer) return { files: llama2cFolder(arg), load: {} };
      const tokenizer = await nodeFileSource(options.tokenizer);
      return {
        files: withFile(nodeSingleFileSet(arg), '--tokenizer', tokenizer),
        load: { llama2cTokenizer: '--tokenizer' },
      };
    }
  }
}

/** A llama2.c checkpoint with the tok*.bin files beside it (and nothing else, so no other .bin is mistaken for it). */
function llama2cFolder(checkpoint: string): FileSet {
  const dir = nodeDirFileSet(dirname(checkpoint));
  const name = basename(checkpoint);
  return {
    name: dir.name,
    async list() {
      return (await dir.list()).filter((f) => f === name || (/^tok.*\.bin$/.test(f) && !f.includes('/')));
    },
    open: (file) => dir.open(file),
  };
}

/** `files` plus one more file under `name`. */
function withFile(files: FileSet, name: string, source: Awaited<ReturnType<typeof nodeFileSource>>): FileSet {
  return {
    name: files.name,
    async list() {
      return [...(await files.list()), name];
    },
    open: async (file) => (file === name ? source : files.open(file)),
  };
}
