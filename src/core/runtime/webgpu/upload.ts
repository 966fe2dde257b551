/**
 * Uploads ModelWeights to GPU buffers once per session.
 *
 * - Matrices keep their storage bytes (f32/f16/bf16/q8_0/q4_0, ggml block layout for the
 *   quantized ones; see kernels/weight-formats.ts): one buffer per matrix.
 * - Routed experts are stacked per layer and role: gate/up [experts*expertIntermediate,
 *   hidden], down [experts*hidden, expertIntermediate]; expert e starts at row e*N, so a
 *   kernel offsets by the expert id it reads on the GPU.
 * - A matrix or stack past the binding limit (the device's maxStorageBufferBindingSize and
 *   maxBufferSize, context.weightBindingBytes) is split into parts, each its own buffer:
 *   whole experts while one fits, else row ranges of one expert (a 128256×2048 f32
 *   embedding, 1 GiB in f32, becomes 8 parts under a 128 MiB limit). Kernels run once per part (forward-plan.ts). A
 *   matrix with a bias, or a row longer than the limit, is refused naming the tensor.
 * - Norm weights and biases (1-D) are converted to f32.
 * - Tensors are read one at a time (a lazy one just before its upload), so uploading holds
 *   one source tensor (or one layer's expert stack) beside the GPU's copy, never the model.
 */
import { BackendError, ConfigError } from '../../errors.ts';
import type { ModelSpec } from '../../model/spec.ts';
import {
  type ExportableTensor,
  type ExportableWeights,
  type LayerOf,
  loadedTensor,
  type MlpOf,
  type ModelOf,
  tensorBytes,
} from '../../model/weights.ts';
import { dequantize } from '../../quant/convert.ts';
import { uploadBuffer } from './dispatch.ts';
import type { GpuContext } from './gpu-context.ts';
import { asGpuWeightDType, weightRowBytes, type GpuWeightDType } from './kernels/weight-formats.ts';
import type { WeightPart } from './kernels/launch.ts';
import { ROUTER_MAX_EXPERTS } from './kernels/router.ts';

/** One buffer of a matrix: rows [row0, row0+rowCount) of experts [expert0, expert0+expertCount). */
export interface GpuMatrixPart extends WeightPart {
  buffer: GPUBuffer;
}

export interface GpuMatrix {
  dtype: GpuWeightDType;
  rows: number; // N (for a stack: experts*N)
  cols: number; // K
  bytes: number; // storage bytes of the whole matrix / stack
  /** One part unless the matrix is past the binding limit; a dense matrix is one expert. */
  parts: GpuMatrixPart[];
}

/** Slack under the limit: uploadBuffer pads a buffer by 4 bytes, then to 16. */
const BINDING_SLACK_BYTES = 32;

/**
 * How an `experts` × `rows` stack of rows of `rowBytes` bytes is split so no part passes
 * `limit` bytes: one part when it fits, else runs of whole experts, else row ranges of one
 * expert. Throws naming `name` when a single row is past the limit.
 */
export function planWeightParts(
  name: string,
  experts: number,
  rows: number,
  rowBytes: number,
  limit: number,
): WeightPart[] {
  const room = limit - BINDING_SLACK_BYTES;
  if (experts * rows * rowBytes <= room) return [{ expert0: 0, expertCount: experts, row0: 0, rowCount: rows }];
  if (rowBytes > room)
    throw new BackendError(`webgpu: tensor '${name}' has rows of ${rowBytes} bytes > the binding limit ${limit}`);
  const parts: WeightPart[] = [];
  if (rows * rowBytes <= room) {
    const perPart = Math.floor(room / (rows * rowBytes));
    for (let e = 0; e < experts; e += perPart)
      parts.push({ expert0: e, expertCount: Math.min(perPart, experts - e), row0: 0, rowCount: rows });
    return parts;
  }
  const rowsPerPart = Math.floor(room / rowBytes);
  for (let e = 0; e < experts; e++)
    for (let r = 0; r < rows; r += rowsPerPart)
      parts.push({ expert0: e, expertCount: 1, row0: r, rowCount: Math.min(rowsPerPart, rows - r) });
  return parts;
}

/** Experts of one layer (or the shared expert, experts = 1) stacked per role. */
export interface GpuExpertStack {
  experts: number;
  intermediate: number;
  gate: GpuMatrix; // [experts*intermediate, hidden]
  up: GpuMatrix; // [experts*intermediate, hidden]
  down: GpuMatrix; // [experts*hidden, intermediate]
  bytesPerExpert: number;
}

/** Routed experts stacked per role (one binding each), so the layer's MoE is not MoeOf's list. */
export interface GpuMoe {
  router: GpuMatrix;
  routed: GpuExpertStack;
  shared?: GpuExpertStack;
  sharedGate?: GpuMatrix;
}

/** Vectors (norms, biases) are f32 buffers. */
export type GpuLayer = LayerOf<GpuMatrix, GPUBuffer, MlpOf<GpuMatrix>, GpuMoe>;

/** lmHead is the embed matrix when tied. */
export interface GpuModel extends ModelOf<GpuMatrix, GPUBuffer, GpuLayer, GpuMatrix> {
  /** Bytes of every weight buffer. */
  bytes: number;
  buffers: GPUBuffer[];
  /** Parts beyond one per matrix (0 when nothing was split): the session sizes its params by it. */
  extraParts: number;
}

class Uploader {
  readonly buffers: GPUBuffer[] = [];
  bytes = 0;
  extraParts = 0;
  constructor(private readonly context: GpuContext) {}

  get limit(): number {
    return this.context.weightBindingBytes;
  }

  /** A buffer that cannot be split (a vector, a matrix with a bias) must fit one binding. */
  checkBindable(name: string, bytes: number): void {
    if (bytes > this.limit - BINDING_SLACK_BYTES)
      throw new BackendError(`webgpu: tensor '${name}' needs ${bytes} bytes > the binding limit ${this.limit}`);
  }

  private upload(name: string, data: ArrayBufferView): GPUBuffer {
    this.checkBindable(name, data.byteLength);
    const buffer = uploadBuffer(this.context, name, data);
    this.buffers.push(buffer);
    this.bytes += data.byteLength;
    return buffer;
  }

  /** `splittable: false` for a matrix read with a bias (the bias is one binding beside it). */
  async matrix(source: ExportableTensor, rows: number, cols: number, splittable = true): Promise<GpuMatrix> {
    const t = await loadedTensor(source);
    if (t.shape.length !== 2 || t.shape[0] !== rows || t.shape[1] !== cols) {
      throw new ConfigError(
        `webgpu: tensor '${t.name}' has shape [${t.shape.join(', ')}], expected [${rows}, ${cols}]`,
      );
    }
    const dtype = asGpuWeightDType(t.dtype, t.name);
    const rowBytes = weightRowBytes(dtype, cols);
    const plan = splittable
      ? planWeightParts(t.name, 1, rows, rowBytes, this.limit)
      : [{ expert0: 0, expertCount: 1, row0: 0, rowCount: rows }];
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const parts = plan.map((part) => ({
      ...part,
      buffer: this.upload(
        plan.length > 1 ? `${t.name}[rows ${part.row0}..]` : t.name,
        bytes.subarray(part.row0 * rowBytes, (part.row0 + part.rowCount) * rowBytes),
      ),
    }));
    this.extraParts += parts.length - 1;
    return { dtype, rows, cols, bytes: rows * rowBytes, parts };
  }

  async vector(t: ExportableTensor, length: number): Promise<GPUBuffer> {
    const values = dequantize(await loadedTensor(t));
    if (values.length !== length)
      throw new ConfigError(`webgpu: tensor '${t.name}' has ${values.length} values, expected ${length}`);
    return this.upload(t.name, values);
  }

  /** Stacks same-dtype, same-shape matrices [rows, cols] into one [count*rows, cols] buffer. */
  /** Stacks same-dtype, same-shape matrices [rows, cols] into one [count*rows, cols] buffer, reading one part at a time. */
  async stack(tensors: ExportableTensor[], rows: number, cols: number, label: string): Promise<GpuMatrix> {
    const dtype = asGpuWeightDType(tensors[0].dtype, tensors[0].name);
    for (const t of tensors) {
      if (t.dtype !== dtype || t.shape[0] !== rows || t.shape[1] !== cols || t.shape.length !== 2) {
        throw new ConfigError(
          `webgpu: expert tensor '${t.name}' is ${t.dtype} [${t.shape.join(', ')}], expected ${dtype} [${rows}, ${cols}] like its siblings`,
        );
      }
    }
    const rowBytes = weightRowBytes(dtype, cols);
    const expertBytes = rows * rowBytes;
    const plan = planWeightParts(label, tensors.length, rows, rowBytes, this.limit);
    // experts are read in order, one at a time; a row-split expert is kept for its next part
    let held: { index: number; bytes: Uint8Array } | undefined;
    const expertData = async (e: number): Promise<Uint8Array> => {
      if (held?.index === e) return held.bytes;
      const t = tensors[e];
      const data = (await loadedTensor(t)).data;
      if (data.byteLength !== expertBytes)
        throw new ConfigError(
          `webgpu: expert tensor '${t.name}' has ${data.byteLength} bytes, expected ${expertBytes}`,
        );
      held = { index: e, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
      return held.bytes;
    };
    const parts: GpuMatrixPart[] = [];
    for (const part of plan) {
      const pieceBytes = part.rowCount * rowBytes;
      const staged = new Uint8Array(part.expertCount * pieceBytes);
      for (let i = 0; i < part.expertCount; i++) {
        const data = await expertData(part.expert0 + i);
        staged.set(data.subarray(part.row0 * rowBytes, part.row0 * rowBytes + pieceBytes), i * pieceBytes);
      }
      const name = plan.length > 1 ? `${label}[experts ${part.expert0}.., rows ${part.row0}..]` : label;
      parts.push({ ...part, buffer: this.upload(name, staged) });
    }
    this.extraParts += parts.length - 1;
    return { dtype, rows: rows * tensors.length, cols, bytes: expertBytes * tensors.length, parts };
  }

  async experts(
    mlps: MlpOf<ExportableTensor>[],
    hidden: number,
    intermediate: number,
    label: string,
  ): Promise<GpuExpertStack> {
    const gate = await this.stack(
      mlps.map((m) => m.gate),
      intermediate,
      hidden,
      `${label}.gate`,
    );
    const up = await this.stack(
      mlps.map((m) => m.up),
      intermediate,
      hidden,
      `${label}.up`,
    );
    const down = await this.stack(
      mlps.map((m) => m.down),
      hidden,
      intermediate,
      `${label}.down`,
    );
    return {
      experts: mlps.length,
      intermediate,
      gate,
      up,
      down,
      bytesPerExpert: (gate.bytes + up.bytes + down.bytes) / mlps.length,
    };
  }
}

async function uploadLayer(
  up: Uploader,
  spec: ModelSpec,
  w: ExportableWeights['layers'][number],
  l: number,
): Promise<GpuLayer> {
  const { hidden, heads, kvHeads, headDim } = spec;
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  const layer: GpuLayer = {
    attnNorm: await up.vector(w.attnNorm, hidden),
    ffnNorm: await up.vector(w.ffnNorm, hidden),
    wq: await up.matrix(w.wq, qDim, hidden, !w.bq),
    wk: await up.matrix(w.wk, kvDim, hidden, !w.bk),
    wv: await up.matrix(w.wv, kvDim, hidden, !w.bv),
    wo: await up.matrix(w.wo, hidden, qDim),
  };
  if (w.bq) layer.bq = await up.vector(w.bq, qDim);
  if (w.bk) layer.bk = await up.vector(w.bk, kvDim);
  if (w.bv) layer.bv = await up.vector(w.bv, kvDim);
  if (w.qNorm) layer.qNorm = await up.vector(w.qNorm, headDim);
  if (w.kNorm) layer.kNorm = await up.vector(w.kNorm, headDim);
  if (w.mlp) {
    const inter = spec.intermediate;
    layer.mlp = {
      gate: await up.matrix(w.mlp.gate, inter, hidden),
      up: await up.matrix(w.mlp.up, inter, hidden),
      down: await up.matrix(w.mlp.down, hidden, inter),
    };
  } else if (w.moe && spec.moe) {
    const moe = spec.moe;
    if (w.moe.experts.length !== moe.experts)
      throw new ConfigError(`webgpu: layer ${l} has ${w.moe.experts.length} experts, spec says ${moe.experts}`);
    layer.moe = {
      router: await up.matrix(w.moe.router, moe.experts, hidden),
      routed: await up.experts(w.moe.experts, hidden, moe.expertIntermediate, `layers.${l}.experts`),
    };
    if (w.moe.shared) {
      const inter = moe.sharedExpert?.intermediate ?? w.moe.shared.gate.shape[0];
      layer.moe.shared = await up.experts([w.moe.shared], hidden, inter, `layers.${l}.shared_expert`);
    }
    if (w.moe.sharedGate) layer.moe.sharedGate = await up.matrix(w.moe.sharedGate, 1, hidden, false);
  } else {
    throw new ConfigError(`webgpu: layer ${l} has neither mlp nor moe weights`);
  }
  return layer;
}

/**
 * Every buffer uploadModel will make, checked against the binding limit before any tensor is
 * read: a matrix read with a bias (or the shared-expert gate) must fit whole, any other
 * matrix or stack is split, so only its single row must fit.
 */
function checkBindings(up: Uploader, weights: ExportableWeights): void {
  const rowBytes = (t: ExportableTensor) => tensorBytes(t) / Math.max(1, t.shape[0]);
  const splittable = (t: ExportableTensor) => planWeightParts(t.name, 1, t.shape[0], rowBytes(t), up.limit);
  splittable(weights.embed);
  if (weights.lmHead) splittable(weights.lmHead);
  for (const w of weights.layers) {
    for (const [t, bias] of [
      [w.wq, w.bq],
      [w.wk, w.bk],
      [w.wv, w.bv],
    ] as const) {
      if (bias) up.checkBindable(t.name, tensorBytes(t));
      else splittable(t);
    }
    for (const t of [w.wo, ...(w.mlp ? [w.mlp.gate, w.mlp.up, w.mlp.down] : [])]) splittable(t);
    if (w.moe) {
      splittable(w.moe.router);
      if (w.moe.sharedGate) up.checkBindable(w.moe.sharedGate.name, tensorBytes(w.moe.sharedGate));
      for (const mlp of [...w.moe.experts, ...(w.moe.shared ? [w.moe.shared] : [])])
        for (const role of ['gate', 'up', 'down'] as const) splittable(mlp[role]);
    }
  }
}

export async function uploadModel(context: GpuContext, weights: ExportableWeights): Promise<GpuModel> {
  const spec = weights.spec;
  if (spec.headDim % 2 !== 0) throw new ConfigError(`webgpu: headDim ${spec.headDim} must be even for RoPE`);
  if (spec.heads % spec.kvHeads !== 0)
    throw new ConfigError(`webgpu: heads ${spec.heads} is not a multiple of kvHeads ${spec.kvHeads}`);
  if (weights.layers.length !== spec.layers)
    throw new ConfigError(`webgpu: ${weights.layers.length} layers of weights, spec says ${spec.layers}`);
  if (spec.moe && spec.moe.experts > ROUTER_MAX_EXPERTS) {
    throw new BackendError(
      `webgpu: ${spec.moe.experts} experts per layer > ${ROUTER_MAX_EXPERTS}, the router kernel's limit`,
    );
  }
  const up = new Uploader(context);
  checkBindings(up, weights);
  try {
    const embed = await up.matrix(weights.embed, spec.vocab, spec.hidden);
    const layers: GpuLayer[] = [];
    for (const [l, w] of weights.layers.entries()) layers.push(await uploadLayer(up, spec, w, l));
    const finalNorm = await up.vector(weights.finalNorm, spec.hidden);
    const lmHead = weights.lmHead ? await up.matrix(weights.lmHead, spec.vocab, spec.hidden) : embed;
    if (!weights.lmHead && !spec.tieEmbeddings) throw new ConfigError('webgpu: no lm_head and tieEmbeddings is false');
    return { spec, embed, layers, finalNorm, lmHead, bytes: up.bytes, buffers: up.buffers, extraParts: up.extraParts };
  } catch (e) {
    for (const b of up.buffers) context.destroyBuffer(b);
    throw e;
  }
}

/**
 * Bytes of weights one token needs (the "active" weights): its embedding row, every norm,
 * attention matrix and bias, the dense MLPs or router + the k chosen experts (+ the shared
 * expert and its gate), and the classifier. `kPerLayer` // [layers].
 */
export function activeWeightBytes(model: GpuModel, kPerLayer: number[]): number {
  const { hidden } = model.spec;
  let bytes = weightRowBytes(model.embed.dtype, hidden) + 4 * hidden + model.lmHead.bytes;
  model.layers.forEach((layer, l) => {
    bytes += 8 * hidden + layer.wq.bytes + layer.wk.bytes + layer.wv.bytes + layer.wo.bytes;
    bytes += 4 * ((layer.bq ? layer.wq.rows : 0) + (layer.bk ? layer.wk.rows : 0) + (layer.bv ? layer.wv.rows : 0));
    if (layer.qNorm) bytes += 8 * model.spec.headDim;
    if (layer.mlp) bytes += layer.mlp.gate.bytes + layer.mlp.up.bytes + layer.mlp.down.bytes;
    if (layer.moe) {
      bytes += layer.moe.router.bytes + kPerLayer[l] * layer.moe.routed.bytesPerExpert;
      if (layer.moe.shared) bytes += layer.moe.shared.bytesPerExpert;
      if (layer.moe.sharedGate) bytes += layer.moe.sharedGate.bytes;
    }
  });
  return bytes;
}
