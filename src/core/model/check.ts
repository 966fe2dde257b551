/**
 * checkModelFiles: the checks loadModel runs, without reading tensor data, so an import can
 * refuse a folder that would not load and the Library can describe a model without loading it.
 *   - HF folder: config.json → ModelSpec (parseHfConfig); the safetensors headers
 *     (openSafetensorsFolder) and every tensor the spec implies, dtype and shape (checkHfTensors,
 *     the loader's own check); generation_config.json; tokenizer.json against vocab_size.
 *   - GGUF: the header → ModelSpec (ggufModelSpec); tokenizer.json beside it, else the embedded one.
 *   - llama2.c: a full load (its header is not exposed on its own; checkpoints are small).
 * Throws what the loader would throw (FormatError / ConfigError / MissingFileError …).
 */
import { FormatError } from '../errors.ts';
import type { FileSet } from '../io/byte-source.ts';
import { openSafetensorsFolder } from '../formats/safetensors-folder.ts';
import { readGguf } from '../formats/gguf.ts';
import { ggufToTokenizer } from './gguf-tokenizer-import.ts';
import { ggufModelSpec } from './gguf-model-import.ts';
import { parseHfConfig } from './hf-config.ts';
import { checkHfTensors, readHfConfigJson } from './load-hf.ts';
import { addGenerationEos, detectModelFormat, loadHfTokenizerFor, loadModel, type ModelFormat } from './load.ts';
import type { ArchName, ModelSpec } from './spec.ts';
import { loadHfTokenizer } from '../tokenizer/hf.ts';
import type { RawTensor } from '../tensor.ts';

/** What a stored model is, as the Library shows it (kept in the manifest). */
export interface ModelSummary {
  format: ModelFormat;
  arch: ArchName;
  /** Parameters the model uses (elements of every tensor the spec implies; a GGUF: every tensor). */
  params: number;
  layers: number;
  hidden: number;
  vocab: number;
  contextLength: number;
  /** Routed experts per layer and experts per token; absent for a dense model. */
  experts?: number;
  expertsPerToken?: number;
  /** The dtype that holds most of the weight bytes ('bf16', 'f32', 'q8_0' …). */
  dtype: string;
  /** Where the tokenizer comes from; 'none' when the model has none. */
  tokenizer: 'tokenizer.json' | 'gguf' | 'llama2c' | 'none';
}

interface TensorFacts {
  dtype: string;
  shape: readonly number[];
  byteLength: number;
}

function summarize(
  format: ModelFormat,
  spec: ModelSpec,
  tensors: TensorFacts[],
  tokenizer: ModelSummary['tokenizer'],
): ModelSummary {
  const bytesByDtype = new Map<string, number>();
  let params = 0;
  for (const t of tensors) {
    params += t.shape.reduce((a, b) => a * b, 1);
    bytesByDtype.set(t.dtype, (bytesByDtype.get(t.dtype) ?? 0) + t.byteLength);
  }
  const dtype = [...bytesByDtype].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'f32';
  const summary: ModelSummary = {
    format,
    arch: spec.arch,
    params,
    layers: spec.layers,
    hidden: spec.hidden,
    vocab: spec.vocab,
    contextLength: spec.contextLength,
    dtype,
    tokenizer,
  };
  if (spec.moe) {
    summary.experts = spec.moe.experts;
    summary.expertsPerToken = spec.moe.expertsPerToken;
  }
  return summary;
}

async function checkHfFolder(files: FileSet): Promise<ModelSummary> {
  const spec = parseHfConfig(await readHfConfigJson(files), 'config.json');
  const directory = await openSafetensorsFolder(files);
  const { entries } = checkHfTensors(spec, directory);
  const list = await files.list();
  if (list.includes('generation_config.json')) await addGenerationEos(files, spec);
  const hasTokenizer = list.includes('tokenizer.json');
  if (hasTokenizer) await loadHfTokenizerFor(files, spec);
  const tensors = entries.map((e) => directory.info(e.name)!);
  return summarize('hf', spec, tensors, hasTokenizer ? 'tokenizer.json' : 'none');
}

async function checkGguf(files: FileSet, file: string): Promise<ModelSummary> {
  const gguf = await readGguf(await files.open(file));
  const { spec } = ggufModelSpec(gguf);
  let tokenizer: ModelSummary['tokenizer'] = 'none';
  if ((await files.list()).includes('tokenizer.json')) {
    await loadHfTokenizer(files);
    tokenizer = 'tokenizer.json';
  } else if (ggufToTokenizer(gguf)) tokenizer = 'gguf';
  return summarize('gguf', spec, gguf.tensors, tokenizer);
}

/** Checks that `files` is a model loadModel can open and says what it is; reads headers, not weights. */
export async function checkModelFiles(files: FileSet): Promise<ModelSummary> {
  const { format, file } = await detectModelFormat(files);
  if (format === 'hf') return checkHfFolder(files);
  if (format === 'gguf') return checkGguf(files, file);
  const model = await loadModel(files);
  if (!model.tokenizer) throw new FormatError(`llama2c: ${files.name}/${file}: no tokenizer`);
  const { weights } = model;
  const tensors: RawTensor[] = [weights.embed, weights.finalNorm, ...(weights.lmHead ? [weights.lmHead] : [])];
  for (const { attnNorm, wq, wk, wv, wo, ffnNorm, mlp } of weights.layers) {
    tensors.push(attnNorm, wq, wk, wv, wo, ffnNorm, ...(mlp ? [mlp.gate, mlp.up, mlp.down] : []));
  }
  const facts = tensors.map((t) => ({ dtype: t.dtype, shape: t.shape, byteLength: t.data.byteLength }));
  return summarize('llama2c', weights.spec, facts, 'llama2c');
}
