/**
 * Test helper (not used by the app): tiny dense HF model folders in memory — config.json,
 * model.safetensors from seeded randomModelWeights, and the testing byte-level BPE
 * tokenizer (BOS = <|endoftext|>, so prompts get a BOS) — and a resolver over them.
 */
import { writeSafetensors } from '../formats/safetensors.ts';
import { openSafetensorsFolder } from '../formats/safetensors-folder.ts';
import { MemorySink, memoryFileSet, type FileSet } from '../io/byte-source.ts';
import { hfTensorEntries, weightForRole } from '../model/hf-tensors.ts';
import { LLAMA_NAMES } from '../model/names-llama.ts';
import { f32Tensor, randomModelWeights, seededNormal, tinyDenseSpec } from '../model/random.ts';
import type { ModelSpec } from '../model/spec.ts';
import type { ModelWeights } from '../model/weights.ts';
import type { DType, RawTensor } from '../tensor.ts';
import { buildTestingBpeTokenizer } from '../tokenizer/bpe.testing.ts';
import { formatModelReference } from '../formats/mergekit-yaml.ts';
import { parseMergeYaml } from '../formats/mergekit-yaml.ts';
import { openMergeInputs, type ModelResolver } from './sources.ts';
import { planMerge, type MergePlan, type PlanOptions } from './plan.ts';
import { runMerge, type MergeResult, type RunOptions } from './run.ts';
import { memoryWriter, type MemoryMergeOutput } from './writer.ts';
import { createMergeRuntime } from './default-runtime.ts';

const TOKENIZER = buildTestingBpeTokenizer();
const TOKENIZER_CONFIG = { ...TOKENIZER.tokenizerConfig, bos_token: '<|endoftext|>' };
/** Ids of the testing tokenizer: every model built here has exactly this vocab. */
export const TESTING_VOCAB = Object.keys(TOKENIZER.tokenizerJson.model.vocab as Record<string, number>).length;

const TORCH_NAMES: Partial<Record<DType, string>> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

export function testingDenseSpec(overrides: Partial<ModelSpec> = {}): ModelSpec {
  return tinyDenseSpec({ vocab: TESTING_VOCAB, contextLength: 128, ...overrides });
}

export function hfConfigFor(spec: ModelSpec, dtype: DType, modelType: string = spec.arch): Record<string, unknown> {
  return {
    architectures: [
      modelType === 'qwen2' ? 'Qwen2ForCausalLM' : modelType === 'mistral' ? 'MistralForCausalLM' : 'LlamaForCausalLM',
    ],
    model_type: modelType,
    hidden_act: 'silu',
    hidden_size: spec.hidden,
    intermediate_size: spec.intermediate,
    num_hidden_layers: spec.layers,
    num_attention_heads: spec.heads,
    num_key_value_heads: spec.kvHeads,
    vocab_size: spec.vocab,
    max_position_embeddings: spec.contextLength,
    rms_norm_eps: spec.rmsEps,
    rope_theta: spec.ropeTheta,
    tie_word_embeddings: spec.tieEmbeddings,
    bos_token_id: spec.bosTokenId,
    eos_token_id: spec.eosTokenIds?.[0],
    torch_dtype: TORCH_NAMES[dtype] ?? 'float32',
  };
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** An HF folder (in memory) holding `weights` plus the testing tokenizer. */
export async function hfFolderFor(
  weights: ModelWeights,
  name: string,
  dtype: DType,
  configOverrides: Record<string, unknown> = {},
): Promise<FileSet> {
  const entries = hfTensorEntries(weights.spec, LLAMA_NAMES);
  const tensors = new Map(entries.map((e) => [e.name, weightForRole(weights, e.role)]));
  const sink = new MemorySink();
  await writeSafetensors(
    sink,
    entries.map((e) => ({ name: e.name, dtype: tensors.get(e.name)!.dtype, shape: e.shape })),
    async (n) => tensors.get(n)!.data,
  );
  return memoryFileSet(
    {
      'config.json': json({ ...hfConfigFor(weights.spec, dtype), ...configOverrides }),
      'model.safetensors': sink.bytes(),
      'tokenizer.json': json(TOKENIZER.tokenizerJson),
      'tokenizer_config.json': json(TOKENIZER_CONFIG),
    },
    name,
  );
}

/** A random dense model folder (seeded). */
export async function randomHfFolder(
  name: string,
  seed: number,
  spec = testingDenseSpec(),
  dtype: DType = 'f32',
  configOverrides: Record<string, unknown> = {},
): Promise<{ files: FileSet; weights: ModelWeights }> {
  const weights = randomModelWeights(spec, seed, dtype);
  return { files: await hfFolderFor(weights, name, dtype, configOverrides), weights };
}

/** A Qwen3-style folder: the llama tensors plus per-layer q_norm / k_norm [headDim], model_type qwen3. */
export async function qwen3Folder(name: string, seed: number, spec = testingDenseSpec()): Promise<FileSet> {
  const headDim = spec.hidden / spec.heads;
  const { files } = await randomHfFolder(name, seed, spec, 'f32', { model_type: 'qwen3' });
  const dir = await openSafetensorsFolder(files);
  const tensors: RawTensor[] = [];
  for (const n of dir.names()) tensors.push(await dir.readTensor(n));
  for (let l = 0; l < spec.layers; l++) {
    for (const which of ['q_norm', 'k_norm']) {
      const n = `model.layers.${l}.self_attn.${which}.weight`;
      tensors.push(f32Tensor(n, [headDim], seededNormal(seed, n, headDim, 0.1, 1)));
    }
  }
  const sink = new MemorySink();
  await writeSafetensors(
    sink,
    tensors.map(({ name: n, dtype, shape }) => ({ name: n, dtype, shape })),
    async (n) => tensors.find((t) => t.name === n)!.data,
  );
  const copy: Record<string, Uint8Array> = {};
  for (const f of await files.list()) {
    const s = await files.open(f);
    copy[f] = await s.read(0, s.size);
  }
  return memoryFileSet({ ...copy, 'model.safetensors': sink.bytes() }, name);
}

/** Resolves `org/name` references against a map of folders. */
export function mapResolver(folders: Record<string, FileSet>): ModelResolver {
  return async (ref) => {
    const files = folders[formatModelReference(ref)];
    if (!files) throw new Error(`testing resolver: no model '${formatModelReference(ref)}'`);
    return files;
  };
}

/** Test helper: parse → open → plan → run into memory; throws on issues. */
export async function mergeInMemory(
  yaml: string,
  folders: Record<string, FileSet>,
  planOptions: PlanOptions = {},
  runOptions: RunOptions = {},
): Promise<{ plan: MergePlan; output: MemoryMergeOutput; result: MergeResult }> {
  const parsed = parseMergeYaml(yaml);
  if (!parsed.ok) throw new Error(`parse issues: ${JSON.stringify(parsed.issues)}`);
  const inputs = await openMergeInputs(parsed.config, mapResolver(folders));
  const planned = planMerge(parsed.config, inputs, planOptions);
  if (!planned.ok) throw new Error(`plan issues: ${planned.issues.map((i) => i.message).join(' | ')}`);
  const writer = memoryWriter();
  const result = await runMerge(planned.plan, inputs, writer, { runtime: createMergeRuntime(), ...runOptions });
  return { plan: planned.plan, output: writer.output, result };
}
