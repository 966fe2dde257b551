/**
 * Loads an HF-layout model folder (config.json + safetensors, single file or sharded with
 * model.safetensors.index.json, + optional tokenizer files) into normalized ModelWeights.
 *
 * Every tensor the spec implies (hf-tensors.ts) must exist with exactly the expected shape:
 * a missing tensor is a FormatError, a shape that disagrees with config.json a ConfigError;
 * both name the tensor, the expected and the actual shape. Tensors no role uses (for example
 * `lm_head.weight` next to tied embeddings, rotary caches) are listed in `extraTensors`, not fatal.
 * Mixtral's classic vs fused (transformers v5) layout is detected from the tensor names; fused
 * expert tensors are split into per-expert views (no copy).
 */
import { ConfigError, FormatError, assert } from '../errors.ts';
import type { FileSet } from '../io/byte-source.ts';
import type { ModelLoadProgress } from '../io/progress.ts';
import { readJsonFile } from '../io/byte-source.ts';
import { DTYPE_TRAITS, tensorByteLength } from '../quant/dtype-traits.ts';
import type { DType, RawTensor } from '../tensor.ts';
import { hfTensorEntries, type HfTensorEntry, type TensorRole } from './hf-tensors.ts';
import { detectMixtralLayout, type MixtralLayout, nameTableFor } from './names.ts';
import type { ModelSpec } from './spec.ts';
import { checkTensorValues } from './check-values.ts';
import type { LazyModelWeights, LazyTensor, MlpOf, ModelWeights, WeightsOf } from './weights.ts';

type Layer<T> = WeightsOf<T>['layers'][number];

/** The subset of TensorDirectory (openSafetensorsFolder) the loader needs. */
export interface HfTensorSource {
  names(): string[];
  info(name: string): { dtype: DType; shape: number[]; byteLength: number; file?: string } | undefined;
  readTensor(name: string): Promise<RawTensor>;
}

/** Reads and parses config.json of an HF folder. */
export async function readHfConfigJson(files: FileSet): Promise<unknown> {
  const list = await files.list();
  if (!list.includes('config.json')) throw new ConfigError(`${files.name}: no config.json (not an HF model folder)`);
  return readJsonFile(files, 'config.json');
}

/** Checks every expected tensor, reads them one by one, and assembles ModelWeights. */
export async function loadHfWeights(
  spec: ModelSpec,
  source: HfTensorSource,
  report: (progress: ModelLoadProgress) => void = () => {},
): Promise<{ weights: ModelWeights; extraTensors: string[]; mixtralLayout?: MixtralLayout }> {
  const { entries, extraTensors, mixtralLayout } = checkHfTensors(spec, source);
  const bytesTotal = entries.reduce((sum, e) => sum + source.info(e.name)!.byteLength, 0);
  let bytesDone = 0;
  const builder = new WeightsBuilder<RawTensor>(spec, rowSlice);
  for (const entry of entries) {
    const info = source.info(entry.name)!;
    report({ phase: 'tensors', file: info.file ?? entry.name, bytesDone, bytesTotal });
    const tensor = await source.readTensor(entry.name);
    checkTensorValues(tensor, `model: ${info.file ?? 'safetensors'}`);
    builder.place(entry.role, tensor);
    bytesDone += info.byteLength;
  }
  report({ phase: 'tensors', file: '', bytesDone, bytesTotal });
  return withLayout({ weights: builder.finish(), extraTensors }, mixtralLayout);
}

/**
 * loadHfWeights with the same checks, but no tensor is read: each becomes a LazyTensor that
 * reads its bytes (values checked, as loadHfWeights does) when used (exports and sessions
 * stream tensor by tensor). Fused Mixtral expert views
 * share a cache of the last two fused tensors read, so the 3E views of a layer read its
 * gate_up_proj and down_proj once each, in any order, and at most one layer's experts stay resident.
 */
export function loadHfWeightsLazy(
  spec: ModelSpec,
  source: HfTensorSource,
): { weights: LazyModelWeights; extraTensors: string[]; mixtralLayout?: MixtralLayout } {
  const { entries, extraTensors, mixtralLayout } = checkHfTensors(spec, source);
  const readChecked = async (name: string) => {
    const tensor = await source.readTensor(name);
    checkTensorValues(tensor, `model: ${source.info(name)!.file ?? 'safetensors'}`);
    return tensor.data;
  };
  // The last two fused tensors read (a layer's gate_up_proj and down_proj), newest last.
  let fusedCache: { name: string; data: Promise<Uint8Array> }[] = [];
  const readFused = (name: string): Promise<Uint8Array> => {
    let hit = fusedCache.find((c) => c.name === name);
    if (!hit) {
      hit = { name, data: readChecked(name) };
      fusedCache = [...fusedCache.slice(-1), hit];
    }
    return hit.data;
  };
  const slice = (fused: LazyTensor, name: string, firstRow: number, rows: number): LazyTensor => {
    const rowLength = fused.shape[fused.shape.length - 1]!;
    const rowBytes = tensorByteLength(fused.dtype, [rowLength]);
    return {
      name,
      dtype: fused.dtype,
      shape: [rows, rowLength],
      read: async () => (await readFused(fused.name)).subarray(firstRow * rowBytes, (firstRow + rows) * rowBytes),
    };
  };
  const builder = new WeightsBuilder<LazyTensor>(spec, slice);
  for (const entry of entries) {
    const info = source.info(entry.name)!;
    const name = entry.name;
    builder.place(entry.role, { name, dtype: info.dtype, shape: [...info.shape], read: () => readChecked(name) });
  }
  return withLayout({ weights: builder.finish(), extraTensors }, mixtralLayout);
}

function withLayout<R extends object>(
  result: R,
  mixtralLayout: MixtralLayout | undefined,
): R & { mixtralLayout?: MixtralLayout } {
  return mixtralLayout ? { ...result, mixtralLayout } : result;
}

/** The tensors `spec` implies, each checked against the headers (no tensor data is read). */
export function checkHfTensors(
  spec: ModelSpec,
  source: Pick<HfTensorSource, 'names' | 'info'>,
): { entries: HfTensorEntry[]; extraTensors: string[]; mixtralLayout?: MixtralLayout } {
  const names = source.names();
  // Mixtral and Qwen3-MoE come classic or fused (transformers v5); the names say which.
  const mixtralLayout = spec.arch === 'mixtral' || spec.arch === 'qwen3_moe' ? detectMixtralLayout(names) : undefined;
  const entries = hfTensorEntries(spec, nameTableFor(spec, mixtralLayout));
  checkTensorsPresent(entries, source);
  const expected = new Set(entries.map((e) => e.name));
  const extraTensors = names.filter((n) => !expected.has(n));
  return mixtralLayout ? { entries, extraTensors, mixtralLayout } : { entries, extraTensors };
}

const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** Every missing tensor is reported (up to a few); then shapes and dtypes are checked. */
function checkTensorsPresent(entries: HfTensorEntry[], source: Pick<HfTensorSource, 'info'>): void {
  const missing = entries.filter((e) => source.info(e.name) === undefined);
  if (missing.length > 0) {
    const shown = missing
      .slice(0, 5)
      .map((e) => `'${e.name}' ${fmtShape(e.shape)}`)
      .join(', ');
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : '';
    throw new FormatError(`model: missing tensor${missing.length > 1 ? 's' : ''} ${shown}${more}`);
  }
  for (const entry of entries) {
    const info = source.info(entry.name)!;
    if (info.shape.length !== entry.shape.length || info.shape.some((d, i) => d !== entry.shape[i])) {
      throw new ConfigError(
        `model: tensor '${entry.name}' has shape ${fmtShape(info.shape)}, config.json implies ${fmtShape(entry.shape)}`,
      );
    }
    if (!DTYPE_TRAITS[info.dtype].isFloat) {
      throw new FormatError(`model: tensor '${entry.name}' has dtype ${info.dtype}, expected a float dtype`);
    }
  }
}

/** A view of `count` rows starting at `firstRow` of a 2-D or 3-D tensor's byte buffer. */
function rowSlice(tensor: RawTensor, name: string, firstRow: number, rows: number): RawTensor {
  const rowLength = tensor.shape[tensor.shape.length - 1]!;
  const rowBytes = tensorByteLength(tensor.dtype, [rowLength]);
  const data = tensor.data.subarray(firstRow * rowBytes, (firstRow + rows) * rowBytes);
  return { name, dtype: tensor.dtype, shape: [rows, rowLength], data };
}

/** A row view of a 2-D tensor (the fused expert split): `rows` rows from `firstRow`. */
type RowSlicer<T> = (tensor: T, name: string, firstRow: number, rows: number) => T;

/** Collects tensors (loaded or lazy) by role, then checks that every slot is filled. */
class WeightsBuilder<T extends { shape: number[] }> {
  private embed?: T;
  private finalNorm?: T;
  private lmHead?: T;
  private readonly layers: Partial<Layer<T>>[];
  private readonly experts: Partial<MlpOf<T>>[][];
  private readonly shared: Partial<MlpOf<T>>[];

  constructor(
    private readonly spec: ModelSpec,
    private readonly slice: RowSlicer<T>,
  ) {
    this.layers = Array.from({ length: spec.layers }, () => ({}));
    this.experts = Array.from({ length: spec.layers }, () =>
      Array.from({ length: spec.moe?.experts ?? 0 }, () => ({})),
    );
    this.shared = Array.from({ length: spec.layers }, () => ({}));
  }

  place(role: TensorRole, tensor: T): void {
    switch (role.kind) {
      case 'embed':
        this.embed = tensor;
        return;
      case 'finalNorm':
        this.finalNorm = tensor;
        return;
      case 'lmHead':
        this.lmHead = tensor;
        return;
      case 'attention':
        this.layers[role.layer]![role.key] = tensor;
        return;
      case 'mlp':
        (this.layers[role.layer]!.mlp ??= {} as MlpOf<T>)[role.key] = tensor;
        return;
      case 'expert':
        this.experts[role.layer]![role.expert]![role.key] = tensor;
        return;
      case 'shared':
        this.shared[role.layer]![role.key] = tensor;
        return;
      case 'router':
        this.moeOf(role.layer).router = tensor;
        return;
      case 'sharedGate':
        this.moeOf(role.layer).sharedGate = tensor;
        return;
      case 'fusedGateUp':
        this.splitGateUp(role.layer, tensor);
        return;
      case 'fusedDown':
        this.splitDown(role.layer, tensor);
        return;
    }
  }

  private moeOf(layer: number): NonNullable<Layer<T>['moe']> {
    return (this.layers[layer]!.moe ??= {} as NonNullable<Layer<T>['moe']>);
  }

  /** gate_up_proj [E, 2I, H]: expert e's gate = rows e*2I .. e*2I+I, up = the next I rows. */
  private splitGateUp(layer: number, tensor: T): void {
    const [experts, twoI] = tensor.shape as [number, number, number];
    const rows2d = { ...tensor, shape: [experts * twoI, tensor.shape[2]!] };
    const inter = twoI / 2;
    for (let e = 0; e < experts; e++) {
      const base = `model.layers.${layer}.experts.${e}`;
      this.experts[layer]![e]!.gate = this.slice(rows2d, `${base}.gate`, e * twoI, inter);
      this.experts[layer]![e]!.up = this.slice(rows2d, `${base}.up`, e * twoI + inter, inter);
    }
  }

  /** down_proj [E, H, I]: expert e's down = the H rows starting at e*H. */
  private splitDown(layer: number, tensor: T): void {
    const [experts, hidden, inter] = tensor.shape as [number, number, number];
    const rows2d = { ...tensor, shape: [experts * hidden, inter] };
    for (let e = 0; e < experts; e++) {
      this.experts[layer]![e]!.down = this.slice(rows2d, `model.layers.${layer}.experts.${e}.down`, e * hidden, hidden);
    }
  }

  finish(): WeightsOf<T> {
    const { spec } = this;
    assert(this.embed && this.finalNorm, 'load-hf: embed or final norm not placed');
    const layers = this.layers.map((layer, i) => {
      if (spec.moe) {
        const moe = this.moeOf(i);
        moe.experts = this.experts[i] as MlpOf<T>[];
        if (spec.moe.sharedExpert) moe.shared = this.shared[i] as MlpOf<T>;
      }
      return layer as Layer<T>;
    });
    const weights: WeightsOf<T> = { spec, embed: this.embed, layers, finalNorm: this.finalNorm };
    if (!spec.tieEmbeddings) {
      assert(this.lmHead, 'load-hf: lm_head not placed');
      weights.lmHead = this.lmHead;
    }
    return weights;
  }
}
