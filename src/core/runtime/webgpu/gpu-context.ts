/**
 * GpuContext: one adapter + device with the adapter's real limits, an explicit engine
 * state, collected device errors, a pipeline cache keyed by WGSL source text and GPU
 * memory accounting (STYLE habit 11).
 *
 * Errors raised asynchronously by the device (device.lost, uncaptured validation errors)
 * are stored in `state` and thrown by `throwIfFailed()` at the next await of a caller.
 */
import { BUFFER_USAGE, MAP_MODE_READ } from './gpu-constants.ts';
import { WGSL_SOURCES } from './kernels/wgsl-sources.generated.ts';
import { BackendError } from '../../errors.ts';

const canarySource = WGSL_SOURCES['canary.wgsl'];

export type GpuLog = (message: string) => void;

/** Engine lifecycle as one union (not boolean flags). */
export type GpuEngineState =
  | { kind: 'ready' }
  | { kind: 'failed'; error: BackendError }
  | { kind: 'lost'; reason: string; message: string }
  | { kind: 'destroyed' };

/** Limits requested at the adapter's real values, by name. */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupStorageSize',
  'maxBindGroups',
] as const satisfies readonly (keyof GPUSupportedLimits)[];

export interface GpuContextOptions {
  /** Use this device (e.g. one from Dawn in Node); its limits are taken as is. */
  device?: GPUDevice;
  /**
   * The `GPU` object to ask for an adapter (default: navigator.gpu). The context keeps a
   * reference to it, also when `device` is given: Dawn for Node (`webgpu` package) frees
   * its native instance when this object is garbage-collected, although devices made from
   * it still live, and the next event processing then aborts the process (std::system_error
   * "Invalid argument", futex errors or SIGSEGV in InstanceBase::ProcessEvents).
   */
  gpu?: GPU;
  onLog?: GpuLog;
  /**
   * 'async' (default) compiles with createComputePipelineAsync; 'sync' with
   * createComputePipeline. Both work with Dawn in Node once `gpu` is kept alive (the
   * aborts once blamed on async compiles were the collected instance above).
   * Errors are caught by the error scope either way.
   */
  pipelineCreation?: 'async' | 'sync';
  /**
   * The most bytes one weight buffer may hold; a bigger matrix or expert stack is split by
   * rows across several buffers (upload.ts). Default and ceiling: the device's
   * maxStorageBufferBindingSize and maxBufferSize. Tests lower it to run the split path on
   * small models.
   */
  maxWeightBindingBytes?: number;
}

export class GpuContext {
  state: GpuEngineState = { kind: 'ready' };
  /** Bytes of live GPU buffers created through `createBuffer`. */
  allocatedBytes = 0;
  readonly hasShaderF16: boolean;
  /** The most bytes one weight buffer holds (see GpuContextOptions.maxWeightBindingBytes). */
  readonly weightBindingBytes: number;
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();

  constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: string,
    // biome-ignore lint/correctness/noUnusedPrivateClassMembers: kept for the context's owner; device-lost and uncaptured errors log through the constructor argument
    private readonly log: GpuLog,
    private readonly pipelineCreation: 'async' | 'sync' = 'async',
    /** The GPU object the device came from, held so it outlives the device (see GpuContextOptions.gpu). */
    readonly gpu?: GPU,
    maxWeightBindingBytes?: number,
  ) {
    this.hasShaderF16 = device.features.has('shader-f16');
    this.weightBindingBytes = Math.min(
      device.limits.maxStorageBufferBindingSize,
      device.limits.maxBufferSize,
      maxWeightBindingBytes ?? Number.POSITIVE_INFINITY,
    );
    device.lost.then((info) => {
      if (this.state.kind === 'destroyed') return;
      this.state = { kind: 'lost', reason: info.reason, message: info.message };
      log(`webgpu: device lost (${info.reason}): ${info.message}`);
    });
    device.addEventListener('uncapturederror', (event) => {
      const message = (event as GPUUncapturedErrorEvent).error.message;
      log(`webgpu: uncaptured error: ${message}`);
      if (this.state.kind === 'ready') this.state = { kind: 'failed', error: new BackendError(`webgpu: ${message}`) };
    });
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Throws the first collected device error (call after every await). */
  throwIfFailed(): void {
    const s = this.state;
    if (s.kind === 'failed') throw s.error;
    if (s.kind === 'lost') throw new BackendError(`webgpu: device lost (${s.reason}): ${s.message}`);
    if (s.kind === 'destroyed') throw new BackendError('webgpu: context was destroyed');
  }

  createBuffer(label: string, size: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const padded = Math.max(16, Math.ceil(size / 16) * 16);
    if (padded > this.limits.maxBufferSize) {
      throw new BackendError(
        `webgpu: buffer '${label}' needs ${padded} bytes > maxBufferSize ${this.limits.maxBufferSize}`,
      );
    }
    const buffer = this.device.createBuffer({ label, size: padded, usage });
    this.allocatedBytes += padded;
    return buffer;
  }

  destroyBuffer(buffer: GPUBuffer): void {
    this.allocatedBytes -= buffer.size;
    buffer.destroy();
  }

  /** Pipelines are cached by their full WGSL source text, never by a hand-built key. */
  pipeline(source: string, label: string): Promise<GPUComputePipeline> {
    let cached = this.pipelines.get(source);
    if (!cached) {
      cached = this.compile(source, label);
      this.pipelines.set(source, cached);
      cached.catch(() => this.pipelines.delete(source));
    }
    return cached;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  private async compile(source: string, label: string): Promise<GPUComputePipeline> {
    const device = this.device;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label, code: source });
    let pipeline: GPUComputePipeline | undefined;
    let failure = '';
    try {
      const descriptor: GPUComputePipelineDescriptor = {
        label,
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      };
      pipeline =
        this.pipelineCreation === 'sync'
          ? device.createComputePipeline(descriptor)
          : await device.createComputePipelineAsync(descriptor);
    } catch (e) {
      failure = (e as Error).message;
    }
    const scopeError = await device.popErrorScope();
    if (scopeError || !pipeline) {
      const info = await module.getCompilationInfo();
      const messages = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`).join('\n');
      throw new BackendError(
        `webgpu: kernel '${label}' failed to compile: ${scopeError?.message ?? failure}\n${messages}`,
      );
    }
    return pipeline;
  }

  destroy(): void {
    this.state = { kind: 'destroyed' };
    this.device.destroy();
  }
}

/** Requests an adapter and a device with the adapter's real limits, logs the adapter, runs the canary. */
export async function createGpuContext(options: GpuContextOptions = {}): Promise<GpuContext> {
  const log = options.onLog ?? (() => {});
  let device = options.device;
  let adapterInfo = 'caller-provided device';
  if (!device) {
    const gpu = options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
    if (!gpu) throw new BackendError('webgpu: no navigator.gpu (needs a secure context and WebGPU enabled)');
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new BackendError('webgpu: requestAdapter() returned null (no WebGPU adapter)');
    const requiredLimits: Record<string, number> = {};
    for (const name of REQUESTED_LIMITS) requiredLimits[name] = adapter.limits[name];
    const requiredFeatures: GPUFeatureName[] = adapter.features.has('shader-f16') ? ['shader-f16'] : [];
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'moe-studio' });
    const info = adapter.info;
    adapterInfo =
      `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.trim() +
      ` fallback=${info.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false}`;
  }
  const limitText = REQUESTED_LIMITS.map((name) => `${name}=${device.limits[name]}`).join(' ');
  log(`webgpu: adapter ${adapterInfo}; shader-f16=${device.features.has('shader-f16')}; ${limitText}`);
  const context = new GpuContext(
    device,
    adapterInfo,
    log,
    options.pipelineCreation,
    options.gpu,
    options.maxWeightBindingBytes,
  );
  await runCanary(context);
  return context;
}

/** Known-answer check that kernels really run and write (y = 2x + 1 on 100 values). */
export async function runCanary(context: GpuContext): Promise<void> {
  const n = 100; // not a multiple of the workgroup size on purpose
  const x = Float32Array.from({ length: n }, (_, i) => i - 37.5);
  const pipeline = await context.pipeline(canarySource, 'canary');
  const { device } = context;
  const xBuf = context.createBuffer('canary.x', n * 4, BUFFER_USAGE.STORAGE | BUFFER_USAGE.COPY_DST);
  const yBuf = context.createBuffer('canary.y', n * 4, BUFFER_USAGE.STORAGE | BUFFER_USAGE.COPY_SRC);
  const readBuf = context.createBuffer('canary.read', n * 4, BUFFER_USAGE.MAP_READ | BUFFER_USAGE.COPY_DST);
  device.queue.writeBuffer(xBuf, 0, x);
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: xBuf, size: n * 4 } },
      { binding: 1, resource: { buffer: yBuf, size: n * 4 } },
    ],
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(n / 64));
  pass.end();
  encoder.copyBufferToBuffer(yBuf, 0, readBuf, 0, n * 4);
  device.queue.submit([encoder.finish()]);
  await readBuf.mapAsync(MAP_MODE_READ);
  const y = new Float32Array(readBuf.getMappedRange().slice(0));
  readBuf.unmap();
  for (const b of [xBuf, yBuf, readBuf]) context.destroyBuffer(b);
  context.throwIfFailed();
  for (let i = 0; i < n; i++) {
    if (y[i] !== 2 * x[i] + 1) {
      throw new BackendError(
        `webgpu: canary kernel gave y[${i}]=${y[i]}, expected ${2 * x[i] + 1} (adapter ${context.adapterInfo})`,
      );
    }
  }
}
