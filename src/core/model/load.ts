/**
 * The one model loader: "open whatever model this is" for the engine worker, the merge
 * worker and the CLI. A FileSet holds one of
 *   - an HF folder: config.json + *.safetensors (+ tokenizer files)        → loadHfModel
 *   - a GGUF: `model.gguf` (a quantized import, with the original config and tokenizer
 *     files kept beside it) or a single `*.gguf`                           → loadGgufModel
 *   - a llama2.c checkpoint `*.bin` and its tokenizer `tok*.bin`           → loadLlama2cCheckpoint
 *
 * Tokenizer rule for a GGUF: tokenizer.json beside it wins (the HF files of an import carry
 * the chat template and the special tokens as the author wrote them); otherwise the
 * tokenizer embedded in the GGUF, whose BOS/EOS come from the spec's token ids.
 */
import { ConfigError } from '../errors.ts';
import type { ByteSource, FileSet } from '../io/byte-source.ts';
import { readJsonFile } from '../io/byte-source.ts';
import { HfTokenizer, loadHfTokenizer } from '../tokenizer/hf.ts';
import { loadLlama2cTokenizer } from '../tokenizer/llama2c.ts';
import type { Tokenizer, TokenizerJson } from '../tokenizer/types.ts';
import type { TokenizerGuard } from '../tokenizer/guard.ts';
import { type LoadedGgufModel, loadGgufModel, loadGgufModelLazy } from './gguf-model-import.ts';
import { loadLlama2cCheckpoint } from './llama2c.ts';
import { type HfTensorSource, loadHfWeights, loadHfWeightsLazy, readHfConfigJson } from './load-hf.ts';
import { parseHfConfig } from './hf-config.ts';
import { openSafetensorsFolder } from '../formats/safetensors-folder.ts';
import type { ModelLoadProgress } from '../io/progress.ts';
import type { MixtralLayout } from './names.ts';
import type { ModelSpec } from './spec.ts';
import type { ExportableWeights, ModelWeights } from './weights.ts';

/** What loadModel returns, whatever the format. */
export interface LoadedModel {
  spec: ModelSpec;
  weights: ModelWeights;
  tokenizer?: Tokenizer;
  /** The parsed config.json (HF, or kept beside a GGUF), else `{ format, file }`. */
  // biome-ignore lint/suspicious/noExplicitAny: config.json is whatever the author wrote; parseHfConfig checks the fields it reads
  config: any;
  files: FileSet;
  /** Checkpoint tensors no role uses (not fatal). */
  extraTensors?: string[];
  /** Mixtral and Qwen3-MoE: which expert layout the checkpoint used (classic or fused). */
  mixtralLayout?: MixtralLayout;
}

/** The file a quantized import keeps its weights in (beside the original config and tokenizer files). */
export const QUANTIZED_FILE = 'model.gguf';

export type ModelFormat = 'hf' | 'gguf' | 'llama2c';

export interface LoadModelOptions {
  onProgress?: (progress: ModelLoadProgress) => void;
  /** Skip the tokenizer even if present. */
  skipTokenizer?: boolean;
  /** llama2.c only: the tokenizer's file name in the set (default: tokenizer.bin, else the one tok*.bin). */
  llama2cTokenizer?: string;
  /**
   * Where an HF tokenizer's untrusted calls run (tokenizer/guard.ts): Node's callers pass
   * nodeTokenizerGuard. Absent: in this thread. llama2.c's tokenizer runs no file-provided code.
   */
  guardTokenizer?: TokenizerGuard;
}

/** The tokenizer as the caller's guard wants it (unchanged without one). */
function guarded(tokenizer: HfTokenizer, options: LoadModelOptions): Promise<Tokenizer> | Tokenizer {
  return options.guardTokenizer ? options.guardTokenizer(tokenizer) : tokenizer;
}

/** Which format a FileSet holds, and the file the weights are in. */
export async function detectModelFormat(files: FileSet): Promise<{ format: ModelFormat; file: string }> {
  const list = await files.list();
  if (list.includes(QUANTIZED_FILE)) return { format: 'gguf', file: QUANTIZED_FILE };
  if (list.includes('config.json')) return { format: 'hf', file: 'config.json' };
  const ggufs = list.filter((f) => f.toLowerCase().endsWith('.gguf'));
  if (ggufs.length === 1) return { format: 'gguf', file: ggufs[0]! };
  const checkpoints = list.filter((f) => f.toLowerCase().endsWith('.bin') && !isLlama2cTokenizerName(f));
  if (ggufs.length === 0 && checkpoints.length === 1) return { format: 'llama2c', file: checkpoints[0]! };
  throw new ConfigError(
    `${files.name}: not a model (expected an HF folder with config.json, one .gguf file or one llama2.c .bin checkpoint; found ${list.length} files)`,
  );
}

export async function loadModel(files: FileSet, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const { format, file } = await detectModelFormat(files);
  switch (format) {
    case 'hf':
      return loadHfModel(files, options);
    case 'gguf':
      return loadGguf(files, file, options, loadGgufModel);
    case 'llama2c':
      return loadLlama2c(files, file, options.llama2cTokenizer);
  }
}

/** A LoadedModel whose weights may be lazy (loadModelLazy). */
export type ExportableModel = Omit<LoadedModel, 'weights'> & { weights: ExportableWeights };

/**
 * loadModel for exports and sessions: an HF folder's or a GGUF's tensors are checked against
 * the headers but not read; each is a LazyTensor read when the exporter or the backend
 * reaches it, so an export holds one tensor (set) at a time and a session holds the weights
 * once, in the backend's own memory. The FileSet must stay readable while the weights are
 * in use. llama2.c checkpoints are still loaded whole.
 */
export async function loadModelLazy(files: FileSet, options: LoadModelOptions = {}): Promise<ExportableModel> {
  const { format, file } = await detectModelFormat(files);
  if (format === 'gguf') return loadGguf(files, file, options, loadGgufModelLazy);
  if (format !== 'hf') return loadModel(files, options);
  return loadHfFolder(files, options, async (spec, tensors) => loadHfWeightsLazy(spec, tensors));
}

export function loadHfModel(files: FileSet, options: LoadModelOptions = {}): Promise<LoadedModel> {
  return loadHfFolder(files, options, loadHfWeights);
}

type WeightsLoader<W> = (
  spec: ModelSpec,
  tensors: HfTensorSource,
  report: (progress: ModelLoadProgress) => void,
) => Promise<{ weights: W; extraTensors: string[]; mixtralLayout?: MixtralLayout }>;

async function loadHfFolder<W extends ExportableWeights>(
  files: FileSet,
  options: LoadModelOptions,
  loadWeights: WeightsLoader<W>,
): Promise<Omit<LoadedModel, 'weights'> & { weights: W }> {
  const report = options.onProgress ?? (() => {});
  report({ phase: 'config', file: 'config.json', bytesDone: 0, bytesTotal: 0 });
  const config = await readHfConfigJson(files);
  const spec = parseHfConfig(config, 'config.json');
  const list = await files.list();
  // The tokenizer (its files read, its JSON parsed and built) loads while the weights are read:
  // over HTTP the two fetches overlap instead of running one after the other.
  const tokenizerLoad =
    !options.skipTokenizer && list.includes('tokenizer.json') ? loadHfTokenizerFor(files, spec) : undefined;
  tokenizerLoad?.catch(() => {}); // its error is thrown where it is awaited, after the weights' own
  const tensors: HfTensorSource = await openSafetensorsFolder(files);
  const { weights, extraTensors, mixtralLayout } = await loadWeights(spec, tensors, report);
  if (list.includes('generation_config.json')) await addGenerationEos(files, spec);
  let tokenizer: Tokenizer | undefined;
  if (tokenizerLoad) {
    report({ phase: 'tokenizer', file: 'tokenizer.json', bytesDone: 0, bytesTotal: 0 });
    tokenizer = await guarded(await tokenizerLoad, options);
  }
  report({ phase: 'done', file: '', bytesDone: 0, bytesTotal: 0 });
  const loaded: Omit<LoadedModel, 'weights'> & { weights: W } = { spec, weights, config, files, extraTensors };
  if (tokenizer) loaded.tokenizer = tokenizer;
  if (mixtralLayout) loaded.mixtralLayout = mixtralLayout;
  return loaded;
}

/** tokenizer.json (+ tokenizer_config.json) of an HF folder, checked against config.json's vocab_size. */
export async function loadHfTokenizerFor(files: FileSet, spec: ModelSpec): Promise<HfTokenizer> {
  const tokenizer = await loadHfTokenizer(files);
  if (tokenizer.vocabSize > spec.vocab) {
    throw new ConfigError(`tokenizer.json: ${tokenizer.vocabSize} tokens, but config.json vocab_size is ${spec.vocab}`);
  }
  return tokenizer;
}

/**
 * generation_config.json's eos_token_id (one id or a list) joins spec.eosTokenIds: chat
 * models list their end-of-turn token there (Qwen2: [151645, 151643]), not in config.json.
 */
export async function addGenerationEos(files: FileSet, spec: ModelSpec): Promise<void> {
  const json: unknown = await readJsonFile(files, 'generation_config.json');
  const eos = (json as { eos_token_id?: unknown } | null)?.eos_token_id;
  const ids = (Array.isArray(eos) ? eos : [eos]).filter(
    (id): id is number => Number.isInteger(id) && (id as number) >= 0,
  );
  if (ids.length === 0) return;
  spec.eosTokenIds = [...new Set([...(spec.eosTokenIds ?? []), ...ids])];
}

async function loadGguf<W extends ExportableWeights>(
  files: FileSet,
  file: string,
  options: LoadModelOptions,
  load: (src: ByteSource) => Promise<LoadedGgufModel<W>>,
): Promise<Omit<LoadedModel, 'weights'> & { weights: W }> {
  const { weights, tokenizerJson, chatTemplate } = await load(await files.open(file));
  const list = await files.list();
  const config = list.includes('config.json')
    ? await readJsonFile(files, 'config.json')
    : { format: 'gguf', file: `${files.name}/${file}` };
  const loaded: Omit<LoadedModel, 'weights'> & { weights: W } = { spec: weights.spec, weights, config, files };
  if (!options.skipTokenizer) {
    if (list.includes('tokenizer.json')) loaded.tokenizer = await guarded(await loadHfTokenizer(files), options);
    else if (tokenizerJson)
      loaded.tokenizer = await guarded(
        tokenizerFromGguf(tokenizerJson, chatTemplate, weights.spec, `${files.name}/${file}`),
        options,
      );
  }
  return loaded;
}

/** The GGUF's embedded tokenizer as an HfTokenizer; BOS/EOS named by the spec's token ids. */
function tokenizerFromGguf(
  tokenizerJson: TokenizerJson,
  chatTemplate: string | undefined,
  spec: ModelSpec,
  file: string,
): HfTokenizer {
  const probe = new HfTokenizer(tokenizerJson, {}, file);
  const config: Record<string, unknown> = {};
  if (chatTemplate) config.chat_template = chatTemplate;
  if (spec.bosTokenId !== undefined) config.bos_token = probe.idToToken(spec.bosTokenId);
  if (spec.eosTokenIds?.length) config.eos_token = probe.idToToken(spec.eosTokenIds[0]!);
  return new HfTokenizer(tokenizerJson, config, file);
}

function isLlama2cTokenizerName(file: string): boolean {
  return /^tok.*\.bin$/.test(file.split('/').pop()!);
}

/** tokenizer.bin when present, else the one tok*.bin beside the checkpoint. */
function findLlama2cTokenizer(files: FileSet, list: string[], checkpoint: string): string {
  const candidates = list.filter((f) => isLlama2cTokenizerName(f) && f !== checkpoint).sort();
  if (candidates.includes('tokenizer.bin')) return 'tokenizer.bin';
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0)
    throw new ConfigError(`${files.name}/${checkpoint}: no tok*.bin beside it; pass --tokenizer FILE`);
  throw new ConfigError(
    `${files.name}/${checkpoint}: several tokenizers beside it (${candidates.join(', ')}); pass --tokenizer FILE`,
  );
}

async function loadLlama2c(files: FileSet, file: string, tokenizerFile: string | undefined): Promise<LoadedModel> {
  const weights = await loadLlama2cCheckpoint(await files.open(file));
  const tokenizerName = tokenizerFile ?? findLlama2cTokenizer(files, await files.list(), file);
  const tokenizer = await loadLlama2cTokenizer(await files.open(tokenizerName), { vocabSize: weights.spec.vocab });
  return {
    spec: weights.spec,
    weights,
    tokenizer,
    config: { format: 'llama2c', file: `${files.name}/${file}`, tokenizer: tokenizerName },
    files,
  };
}
