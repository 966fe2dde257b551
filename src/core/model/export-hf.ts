/**
 * ModelWeights → an HF-layout folder: config.json (written first, as mergekit does), the
 * weights as safetensors (one `model.safetensors`, or `model-0000k-of-0000N.safetensors` +
 * `model.safetensors.index.json` when over maxShardBytes; streaming writer, one tensor
 * resident at a time, read when its turn comes if the weights are lazy), generation_config.json
 * written as transformers writes it (generation-config.ts), then the tokenizer files copied through unchanged.
 *
 * Mixtral is written in the classic per-expert layout by default (mergekit v0.1.4,
 * transformers 4.x, llama.cpp's converter) or the transformers-v5 fused layout on request.
 * Checkpoints with llama2.c's interleaved RoPE are permuted to HF's rotate_half layout
 * (transformers' convert_llama_weights_to_hf `permute`), so the written folder is standard.
 */
import { ConfigError, MissingFileError } from '../errors.ts';
import { lazySafetensorsSource, type TensorEntry } from '../formats/safetensors.ts';
import { SAFETENSORS_SINGLE_FILE, writeSafetensorsSharded } from '../formats/safetensors-folder.ts';
import { bytesSource, type ByteSink, type FileSet } from '../io/byte-source.ts';
import { dequantize, quantize } from '../quant/convert.ts';
import { tensorByteLength } from '../quant/dtype-traits.ts';
import type { DType, RawTensor } from '../tensor.ts';
import { TOKENIZER_FILES } from '../tokenizer/files.ts';
import { GENERATION_CONFIG_FILE, generationConfigText, readSourceGeneration } from './generation-config.ts';
import { hfConfigFromSpec } from './hf-config-write.ts';
import { hfTensorEntries, layerExperts, weightForRole, type HfTensorEntry } from './hf-tensors.ts';
import { nameTableFor, type MixtralLayout } from './names.ts';
import type { ModelSpec } from './spec.ts';
import { type ExportableTensor, type ExportableWeights, loadedTensor } from './weights.ts';
import { stringifyHfConfig } from './hf-config-json.ts';

/** Float dtypes a safetensors checkpoint can hold. */
export type HfExportDType = 'f32' | 'f16' | 'bf16';

export interface ExportHfOptions {
  /** Storage dtype of every tensor. Default: keep f32/f16/bf16 tensors as they are; q8_0/q4_0 become f32. */
  dtype?: HfExportDType;
  /** Mixtral's and Qwen3-MoE's expert layout (default 'classic'; other architectures have one). */
  mixtralLayout?: MixtralLayout;
  /** Shard budget in bytes (default 5e9, as mergekit and transformers). */
  maxShardBytes?: number;
  /** Keys of an existing config.json to carry over (keys we model are overwritten). */
  baseConfig?: Record<string, unknown>;
  /** Tokenizer files (tokenizer.json, tokenizer_config.json, …) found here are copied through. */
  sidecarFiles?: FileSet;
  /** More files to write verbatim (e.g. mergekit_moe_config.yml). */
  extraFiles?: Record<string, Uint8Array | string>;
  /** safetensors `__metadata__` (default {format: 'pt'}, as transformers writes). */
  metadata?: Record<string, string>;
  onProgress?: (progress: {
    phase: 'config' | 'tensors' | 'files';
    file: string;
    tensorsDone: number;
    tensorsTotal: number;
  }) => void;
}

export const DEFAULT_MAX_SHARD_BYTES = 5e9;

async function writeFile(
  openSink: (fileName: string) => Promise<ByteSink>,
  file: string,
  bytes: Uint8Array,
): Promise<void> {
  const sink = await openSink(file);
  await sink.write(bytes);
  await sink.close();
}

/** Rows of a tensor in storage order, as byte views. */
function rowBytes(tensor: RawTensor): number {
  return tensorByteLength(tensor.dtype, [tensor.shape[tensor.shape.length - 1]!]);
}

/**
 * llama2.c / Meta (interleaved pairs 2i, 2i+1) → HF rotate_half (pairs i, i+headDim/2):
 * within each head, the row of pair i, member j moves to j*headDim/2 + i.
 */
export function permuteRowsToHalfRope(tensor: RawTensor, heads: number): RawTensor {
  const rows = tensor.shape[0]!;
  const headDim = rows / heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ConfigError(`export: tensor '${tensor.name}' rows ${rows} do not split into ${heads} heads of even size`);
  }
  const bytes = rowBytes(tensor);
  const out = new Uint8Array(tensor.data.byteLength);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let r = 0; r < headDim; r++) {
      const target = h * headDim + (r % 2) * half + Math.floor(r / 2);
      out.set(tensor.data.subarray((h * headDim + r) * bytes, (h * headDim + r + 1) * bytes), target * bytes);
    }
  }
  return { ...tensor, data: out };
}

function storageDtype(tensor: ExportableTensor, requested?: HfExportDType): DType {
  if (requested) return requested;
  return tensor.dtype === 'f32' || tensor.dtype === 'f16' || tensor.dtype === 'bf16' ? tensor.dtype : 'f32';
}

function convert(tensor: RawTensor, dtype: DType): Uint8Array {
  if (tensor.dtype === dtype) return tensor.data;
  return quantize(tensor.name, dequantize(tensor), tensor.shape, dtype).data;
}

/** Resolves each entry's bytes from the weights (read now if lazy): per-role tensors or fused expert stacks. */
class TensorSource {
  constructor(
    private readonly weights: ExportableWeights,
    private readonly dtype: HfExportDType | undefined,
  ) {}

  private async roleTensor(entry: HfTensorEntry): Promise<RawTensor> {
    const tensor = await loadedTensor(weightForRole(this.weights, entry.role));
    const spec = this.weights.spec;
    if (spec.ropeStyle === 'interleaved' && entry.role.kind === 'attention') {
      if (entry.role.key === 'wq' || entry.role.key === 'bq') return permuteRowsToHalfRope(asRows(tensor), spec.heads);
      if (entry.role.key === 'wk' || entry.role.key === 'bk')
        return permuteRowsToHalfRope(asRows(tensor), spec.kvHeads);
    }
    return tensor;
  }

  dtypeOf(entry: HfTensorEntry): DType {
    const role = entry.role;
    if (role.kind === 'fusedGateUp' || role.kind === 'fusedDown') {
      return storageDtype(layerExperts(this.weights, role.layer)[0]!.gate, this.dtype);
    }
    return storageDtype(weightForRole(this.weights, role), this.dtype);
  }

  async bytes(entry: HfTensorEntry): Promise<Uint8Array> {
    const role = entry.role;
    const dtype = this.dtypeOf(entry);
    if (role.kind !== 'fusedGateUp' && role.kind !== 'fusedDown') {
      const tensor = await this.roleTensor(entry);
      checkShape(tensor, entry);
      return convert(tensor, dtype);
    }
    const out = new Uint8Array(tensorByteLength(dtype, entry.shape));
    let at = 0;
    for (const expert of layerExperts(this.weights, role.layer)) {
      const pieces = role.kind === 'fusedGateUp' ? [expert.gate, expert.up] : [expert.down];
      for (const piece of pieces) {
        const part = convert(await loadedTensor(piece), dtype);
        if (at + part.byteLength > out.byteLength)
          throw new ConfigError(`export: fused tensor '${entry.name}' parts exceed ${out.byteLength} bytes`);
        out.set(part, at);
        at += part.byteLength;
      }
    }
    if (at !== out.byteLength)
      throw new ConfigError(`export: fused tensor '${entry.name}' got ${at} bytes, expected ${out.byteLength}`);
    return out;
  }
}

/** A 1-D bias seen as [n, 1] rows so it can be permuted like a matrix. */
function asRows(tensor: RawTensor): RawTensor {
  return tensor.shape.length === 1 ? { ...tensor, shape: [tensor.shape[0]!, 1] } : tensor;
}

function checkShape(tensor: RawTensor, entry: HfTensorEntry): void {
  const actual =
    tensor.shape.length === 2 && tensor.shape[1] === 1 && entry.shape.length === 1 ? [tensor.shape[0]!] : tensor.shape;
  if (actual.length !== entry.shape.length || actual.some((d, i) => d !== entry.shape[i])) {
    throw new ConfigError(
      `export: tensor '${entry.name}' has shape [${tensor.shape.join(', ')}], the spec implies [${entry.shape.join(', ')}]`,
    );
  }
}

/** The spec as written to config.json (HF layout always uses rotate_half RoPE). */
function exportedSpec(spec: ModelSpec): ModelSpec {
  return { ...spec, ropeStyle: 'half' };
}

/** What an export writes: config.json's bytes, the tensor table, and each tensor's bytes on demand. */
function hfFolderPlan(weights: ExportableWeights, options: ExportHfOptions) {
  const spec = exportedSpec(weights.spec);
  const hfEntries = hfTensorEntries(spec, nameTableFor(spec, options.mixtralLayout ?? 'classic'));
  const source = new TensorSource(weights, options.dtype);
  const config = hfConfigFromSpec(spec, {
    base: options.baseConfig,
    dtype: options.dtype ?? source.dtypeOf(hfEntries[0]!),
  });
  const byName = new Map(hfEntries.map((e) => [e.name, e]));
  return {
    config,
    configBytes: new TextEncoder().encode(stringifyHfConfig(config)),
    entries: hfEntries.map((e): TensorEntry => ({ name: e.name, dtype: source.dtypeOf(e), shape: e.shape })),
    bytes: (name: string) => source.bytes(byName.get(name)!),
    metadata: options.metadata ?? { format: 'pt' },
  };
}

/** Writes config.json, the safetensors shard(s) and the sidecar files; returns the file names. */
export async function exportHfFolder(
  weights: ExportableWeights,
  openSink: (fileName: string) => Promise<ByteSink>,
  options: ExportHfOptions = {},
): Promise<{ files: string[] }> {
  const plan = hfFolderPlan(weights, options);
  const generationBytes = await generationConfigBytes(plan.config, options.sidecarFiles);
  const entries = plan.entries;
  const report = options.onProgress ?? (() => {});

  report({ phase: 'config', file: 'config.json', tensorsDone: 0, tensorsTotal: entries.length });
  await writeFile(openSink, 'config.json', plan.configBytes);
  await writeFile(openSink, GENERATION_CONFIG_FILE, generationBytes);
  let done = 0;
  const written = await writeSafetensorsSharded(
    openSink,
    entries,
    async (name) => {
      report({ phase: 'tensors', file: name, tensorsDone: done++, tensorsTotal: entries.length });
      return plan.bytes(name);
    },
    { maxShardBytes: options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES, metadata: plan.metadata },
  );
  const files = ['config.json', GENERATION_CONFIG_FILE, ...written.files];
  for (const file of await sidecarNames(options.sidecarFiles)) {
    report({ phase: 'files', file, tensorsDone: done, tensorsTotal: entries.length });
    const src = await options.sidecarFiles!.open(file);
    await writeFile(openSink, file, await src.read(0, src.size));
    files.push(file);
  }
  for (const [file, content] of Object.entries(options.extraFiles ?? {})) {
    await writeFile(openSink, file, typeof content === 'string' ? new TextEncoder().encode(content) : content);
    files.push(file);
  }
  return { files };
}

/**
 * The same folder as exportHfFolder (one unsharded model.safetensors) as a FileSet that is
 * never written: each tensor is converted when a reader reaches it (lazySafetensorsSource), and
 * sidecar files are read through. Merging a quantized donor holds its quantized weights plus
 * one converted tensor instead of a 4-7x f32 copy.
 */
export async function lazyHfFolder(
  weights: ExportableWeights,
  name: string,
  options: Pick<ExportHfOptions, 'dtype' | 'mixtralLayout' | 'baseConfig' | 'sidecarFiles' | 'metadata'> = {},
): Promise<FileSet> {
  const plan = hfFolderPlan(weights, options);
  const generationBytes = await generationConfigBytes(plan.config, options.sidecarFiles);
  const tensors = lazySafetensorsSource(`${name}/${SAFETENSORS_SINGLE_FILE}`, plan.entries, plan.bytes, plan.metadata);
  const sidecars = await sidecarNames(options.sidecarFiles);
  return {
    name,
    async list() {
      return ['config.json', GENERATION_CONFIG_FILE, SAFETENSORS_SINGLE_FILE, ...sidecars].sort();
    },
    async open(file: string) {
      if (file === 'config.json') return bytesSource(plan.configBytes, `${name}/config.json`);
      if (file === GENERATION_CONFIG_FILE) return bytesSource(generationBytes, `${name}/${GENERATION_CONFIG_FILE}`);
      if (file === SAFETENSORS_SINGLE_FILE) return tensors;
      if (sidecars.includes(file)) return options.sidecarFiles!.open(file);
      throw new MissingFileError(name, file);
    },
  };
}

/** The sidecar files copied through: the tokenizer's (generation_config.json is written, not copied). */
async function sidecarNames(files: FileSet | undefined): Promise<string[]> {
  if (!files) return [];
  const present = new Set(await files.list());
  return TOKENIZER_FILES.filter((f) => present.has(f));
}

/** generation_config.json for `config`, with the source's own generation ids taking precedence. */
async function generationConfigBytes(
  config: Record<string, unknown>,
  sidecars: FileSet | undefined,
): Promise<Uint8Array> {
  return new TextEncoder().encode(generationConfigText(config, await readSourceGeneration(sidecars)));
}
