/**
 * The WebGPU backend through the shared conformance table (cpu/conformance.testing.ts): every case
 * (dense, qwen2 bias + interleaved rope + tied, Mixtral trace, Qwen2-MoE shared expert,
 * overrides, captureLayerInputs + truncate) × f32 / f16 / bf16 / q8_0 / q4_0 weights,
 * against the CPU reference in the same page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE_CASES, runConformanceCase } from '../cpu/conformance.testing.ts';
import type { DType } from '../../tensor.ts';
import { createWebGpuBackend, type WebGpuBackend } from './backend.ts';

let backend: WebGpuBackend;
beforeAll(async () => {
  backend = await createWebGpuBackend({ onLog: (m) => console.log(m) });
});
afterAll(() => backend?.destroy());

const DTYPES: DType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];

describe.each(DTYPES)('webgpu conformance, %s weights', (dtype) => {
  it.each(CONFORMANCE_CASES.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    const result = await runConformanceCase(backend, testCase, dtype);
    expect(result.messages.join('\n')).toBe('');
    expect(result.ok).toBe(true);
  });
});
