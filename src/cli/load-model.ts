/**
 * The CLI's model argument: an HF folder (or its config.json / a .safetensors file inside it),
 * a `.gguf` file, or a llama2.c `.bin` checkpoint (its tokenizer: --tokenizer FILE, else a
 * tok*.bin / tokenizer.bin beside it).
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import * as ggufModel from '../core/model/gguf-model.ts';
import { loadGgufModel } from '../core/model/gguf-model.ts';
import { loadLlama2cCheckpoint } from '../core/model/llama2c.ts';
import { loadHfModel, type LoadedModel, type LoadProgress } from '../core/model/load-hf.ts';
import type { ModelWeights } from '../core/model/weights.ts';
import { HfTokenizer } from '../core/tokenizer/hf.ts';
import { loadLlama2cTokenizer } from '../core/tokenizer/llama2c.ts';
import type { Tokenizer } from '../core/tokenizer/types.ts';
import { isDirectory, nodeDirFileSet, nodeFileSource, nodeSingleFileSet, pathExists } from './node-io.ts';

export interface LoadModelOptions {
  /** llama2.c only: the tokenizer file (default: tok*.bin or tokenizer.bin beside the checkpoint). */
  tokenizer?: string;
  onProgress?: (progress: LoadProgress) => void;
}

export type ModelArgKind = 'hf' | 'gguf' | 'llama2c';

/** A's GGUF model module (kept as a function: the merge command calls it). */
export async function importGgufModel(): Promise<typeof ggufModel> {
  return ggufModel;
}

export async function modelArgKind(arg: string): Promise<ModelArgKind> {
  if (await isDirectory(arg)) return 'hf';
  if (!(await pathExists(arg))) throw new ConfigError(`${arg}: no such file or directory`);
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

export async function loadModelArg(arg: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  switch (await modelArgKind(arg)) {
    case 'hf':
      return loadHfModel(nodeDirFileSet((await isDirectory(arg)) ? arg : dirname(arg)), {
        onProgress: options.onProgress,
      });
    case 'gguf':
      return loadGgufArg(arg);
    case 'llama2c':
      return loadLlama2cArg(arg, options.tokenizer);
  }
}

/** GGUF: the tokenizer comes back as tokenizer.json; BOS/EOS from the spec's ids. */
async function loadGgufArg(path: string): Promise<LoadedModel> {
  const { weights, tokenizerJson, chatTemplate } = await loadGgufModel(await nodeFileSource(path));
  const loaded: LoadedModel = {
    spec: weights.spec,
    weights,
    config: { format: 'gguf', path },
    files: nodeSingleFileSet(path),
  };
  if (tokenizerJson) loaded.tokenizer = tokenizerFromGguf(tokenizerJson, chatTemplate, weights);
  return loaded;
}

function tokenizerFromGguf(tokenizerJson: any, chatTemplate: string | undefined, weights: ModelWeights): Tokenizer {
  const probe = new HfTokenizer(tokenizerJson, {});
  const config: Record<string, unknown> = {};
  if (chatTemplate) config.chat_template = chatTemplate;
  const { bosTokenId, eosTokenIds } = weights.spec;
  if (bosTokenId !== undefined) config.bos_token = probe.idToToken(bosTokenId);
  if (eosTokenIds?.length) config.eos_token = probe.idToToken(eosTokenIds[0]!);
  return new HfTokenizer(tokenizerJson, config);
}

async function findLlama2cTokenizer(checkpoint: string): Promise<string> {
  const dir = dirname(checkpoint);
  const candidates = (await readdir(dir)).filter((f) => /^tok.*\.bin$/.test(f) && f !== basename(checkpoint)).sort();
  if (candidates.includes('tokenizer.bin')) return join(dir, 'tokenizer.bin');
  if (candidates.length === 1) return join(dir, candidates[0]!);
  if (candidates.length === 0) throw new ConfigError(`${checkpoint}: no tok*.bin beside it; pass --tokenizer FILE`);
  throw new ConfigError(
    `${checkpoint}: several tokenizers beside it (${candidates.join(', ')}); pass --tokenizer FILE`,
  );
}

async function loadLlama2cArg(path: string, tokenizerPath?: string): Promise<LoadedModel> {
  const weights = await loadLlama2cCheckpoint(await nodeFileSource(path));
  const tokPath = tokenizerPath ?? (await findLlama2cTokenizer(path));
  const tokenizer = await loadLlama2cTokenizer(await nodeFileSource(tokPath), { vocabSize: weights.spec.vocab });
  return {
    spec: weights.spec,
    weights,
    tokenizer,
    config: { format: 'llama2c', path, tokenizer: tokPath },
    files: nodeSingleFileSet(path),
  };
}
