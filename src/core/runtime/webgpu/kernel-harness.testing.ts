/**
 * Test support (used by *.browser.test.ts only): run one kernel on fresh buffers and read
 * one output back, so each kernel can be compared with the CPU reference in isolation.
 */
import { createSite, ParamArena, readBack, submitSteps, uploadBuffer } from './dispatch.ts';
import type { GpuContext } from './gpu-context.ts';
import type { KernelLaunch } from './kernels/launch.ts';

/**
 * Fresh random inputs each run: a base seed from the clock, logged so a failure can be
 * replayed with VITE_TEST_SEED=<seed>. Tests offset it per case.
 */
export function freshTestSeed(file: string): number {
  const seed = (Number(import.meta.env.VITE_TEST_SEED) || Date.now()) >>> 0;
  console.log(`webgpu ${file} seed ${seed} (replay: VITE_TEST_SEED=${seed})`);
  return seed;
}

/** An input buffer: data to upload, or a byte size of zeros. */
export type HarnessBuffer = ArrayBufferView | { zeros: number };

export class KernelHarness {
  private readonly arena: ParamArena;

  constructor(readonly context: GpuContext) {
    this.arena = new ParamArena(context, 512);
  }

  /** Runs `source` with `buffers` at bindings 1..n; returns binding `outputBinding`'s bytes. */
  async run(
    label: string,
    source: string,
    buffers: HarnessBuffer[],
    launch: KernelLaunch,
    outputBinding: number,
  ): Promise<ArrayBuffer> {
    const gpuBuffers = buffers.map((b, i) =>
      uploadBuffer(this.context, `${label}.${i + 1}`, 'zeros' in b ? new Uint8Array(b.zeros) : b),
    );
    try {
      const site = await createSite(this.context, this.arena, label, source, gpuBuffers);
      submitSteps(this.context, this.arena, [{ kind: 'dispatch', site, launch }]);
      const out = buffers[outputBinding - 1];
      const size = 'zeros' in out ? out.zeros : out.byteLength;
      return await readBack(this.context, gpuBuffers[outputBinding - 1], 0, size);
    } finally {
      for (const b of gpuBuffers) this.context.destroyBuffer(b);
    }
  }

  async runF32(
    label: string,
    source: string,
    buffers: HarnessBuffer[],
    launch: KernelLaunch,
    outputBinding: number,
  ): Promise<Float32Array> {
    return new Float32Array(await this.run(label, source, buffers, launch, outputBinding));
  }
}

/** Seeded uniform values in [-scale, scale) (mulberry32), for kernel inputs. */
export function seededUniform(seed: number, count: number, scale = 1): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
