/**
 * Dispatch plumbing shared by the session and the kernel tests.
 *
 * A KernelSite is one place in the forward pass where a kernel runs: a cached pipeline,
 * a bind group created once (bindings 1.. are fixed buffers) and a 256-byte slot of the
 * ParamArena (binding 0). Per chunk of tokens the session lists Steps (dispatches with
 * their packed params, and buffer copies), writes the arena once and submits one command
 * buffer: no mapping, no waiting, so the GPU queue is never drained mid-token.
 */
import { BUFFER_USAGE, MAP_MODE_READ } from './gpu-constants.ts';
import { assert } from '../../errors.ts';
import type { GpuContext } from './gpu-context.ts';
import type { KernelLaunch } from './kernels/launch.ts';

/** Bytes per params slot: minUniformBufferOffsetAlignment is at most 256 (WebGPU spec). */
export const PARAM_SLOT_BYTES = 256;

export class ParamArena {
  readonly buffer: GPUBuffer;
  private readonly words: Uint32Array;
  private used = 0;

  constructor(
    private readonly context: GpuContext,
    readonly capacity: number,
  ) {
    this.buffer = context.createBuffer(
      'params',
      capacity * PARAM_SLOT_BYTES,
      BUFFER_USAGE.UNIFORM | BUFFER_USAGE.COPY_DST,
    );
    this.words = new Uint32Array((capacity * PARAM_SLOT_BYTES) / 4);
  }

  allocate(): number {
    assert(this.used < this.capacity, `ParamArena: all ${this.capacity} slots used`);
    return this.used++;
  }

  set(slot: number, params: Uint32Array): void {
    assert(params.length * 4 <= PARAM_SLOT_BYTES, `ParamArena: params of ${params.length} words exceed a slot`);
    this.words.set(params, (slot * PARAM_SLOT_BYTES) / 4);
  }

  /** One queue.writeBuffer of every slot in use. */
  flush(): void {
    this.context.device.queue.writeBuffer(this.buffer, 0, this.words, 0, (this.used * PARAM_SLOT_BYTES) / 4);
  }

  destroy(): void {
    this.context.destroyBuffer(this.buffer);
  }
}

export interface BufferRange {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

export interface KernelSite {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  slot: number;
}

/** Compiles (or reuses) the pipeline for `source` and binds `buffers` to bindings 1..n. */
export async function createSite(
  context: GpuContext,
  arena: ParamArena,
  label: string,
  source: string,
  buffers: (GPUBuffer | BufferRange)[],
): Promise<KernelSite> {
  const pipeline = await context.pipeline(source, label);
  const slot = arena.allocate();
  const entries: GPUBindGroupEntry[] = [
    { binding: 0, resource: { buffer: arena.buffer, offset: slot * PARAM_SLOT_BYTES, size: PARAM_SLOT_BYTES } },
    ...buffers.map((b, i) => ({ binding: i + 1, resource: 'buffer' in b ? b : { buffer: b } })),
  ];
  const bindGroup = context.device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries });
  return { label, pipeline, bindGroup, slot };
}

export type Step =
  | { kind: 'dispatch'; site: KernelSite; launch: KernelLaunch }
  | { kind: 'copy'; from: GPUBuffer; fromOffset: number; to: GPUBuffer; toOffset: number; size: number };

export interface SubmitCounts {
  dispatches: number;
  weightBytes: number;
}

/**
 * Writes the params of every dispatch into the arena, encodes all steps into one command
 * buffer and submits it. A site may appear at most once per submit (its slot holds one
 * params struct).
 */
export function submitSteps(context: GpuContext, arena: ParamArena, steps: Step[]): SubmitCounts {
  const seen = new Set<number>();
  const counts: SubmitCounts = { dispatches: 0, weightBytes: 0 };
  for (const step of steps) {
    if (step.kind !== 'dispatch') continue;
    assert(!seen.has(step.site.slot), `submitSteps: site '${step.site.label}' used twice in one submit`);
    seen.add(step.site.slot);
    arena.set(step.site.slot, step.launch.params);
  }
  arena.flush();
  const encoder = context.device.createCommandEncoder();
  let pass: GPUComputePassEncoder | undefined;
  for (const step of steps) {
    if (step.kind === 'copy') {
      pass?.end();
      pass = undefined;
      encoder.copyBufferToBuffer(step.from, step.fromOffset, step.to, step.toOffset, step.size);
      continue;
    }
    pass ??= encoder.beginComputePass();
    pass.setPipeline(step.site.pipeline);
    pass.setBindGroup(0, step.site.bindGroup);
    const [x, y, z] = step.launch.grid;
    pass.dispatchWorkgroups(x, y, z);
    counts.dispatches++;
    counts.weightBytes += step.launch.weightBytes;
  }
  pass?.end();
  context.device.queue.submit([encoder.finish()]);
  return counts;
}

/** Copies `size` bytes of `source` into a fresh mappable buffer and reads them (one sync). */
export async function readBack(
  context: GpuContext,
  source: GPUBuffer,
  offset: number,
  size: number,
): Promise<ArrayBuffer> {
  const staging = context.createBuffer('readback', size, BUFFER_USAGE.MAP_READ | BUFFER_USAGE.COPY_DST);
  const encoder = context.device.createCommandEncoder();
  encoder.copyBufferToBuffer(source, offset, staging, 0, size);
  context.device.queue.submit([encoder.finish()]);
  await staging.mapAsync(MAP_MODE_READ);
  const bytes = staging.getMappedRange(0, size).slice(0);
  staging.unmap();
  context.destroyBuffer(staging);
  context.throwIfFailed();
  return bytes;
}

/** A storage buffer holding `data` (padded to 16 bytes). */
export function uploadBuffer(context: GpuContext, label: string, data: ArrayBufferView, extraUsage = 0): GPUBuffer {
  const buffer = context.createBuffer(
    label,
    data.byteLength + 4,
    BUFFER_USAGE.STORAGE | BUFFER_USAGE.COPY_DST | BUFFER_USAGE.COPY_SRC | extraUsage,
  );
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const aligned =
    bytes.byteLength % 4 === 0
      ? bytes
      : (() => {
          const c = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
          c.set(bytes);
          return c;
        })();
  context.device.queue.writeBuffer(buffer, 0, aligned);
  return buffer;
}
