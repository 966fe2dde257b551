/**
 * The WebGPU backend through the shared conformance table (cpu/conformance.testing.ts): every case
 * (dense, qwen2 bias + interleaved rope + tied, Mixtral trace, Qwen2-MoE shared expert,
 * overrides, captureLayerInputs + truncate) × f32 / f16 / bf16 / q8_0 / q4_0 weights,
 * against the CPU reference in the same page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE_CASES, runConformanceCase } from '../cpu/conformance.testing.ts';
import type { DType } from '../../tensor.ts';
import { randomModelWeights } from '../../model/random.ts';
import { createWebGpuBackend, type WebGpuBackend } from './backend.ts';

let backend: WebGpuBackend;
beforeAll(async () => {
  backend = await createWebGpuBackend({ onLog: (m) => console.log(m) });
});
afterAll(() => backend?.destroy());

const DTYPES: DType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];

/** Cases the WebGPU kernels do not implement: refused (test below), not compared. */
const windowed = CONFORMANCE_CASES.filter((c) => c.spec.slidingWindow !== undefined);

describe.each(DTYPES)('webgpu conformance, %s weights', (dtype) => {
  it.each(CONFORMANCE_CASES.filter((c) => !windowed.includes(c)).map((c) => [c.name, c] as const))(
    '%s',
    async (_name, testCase) => {
      const result = await runConformanceCase(backend, testCase, dtype);
      expect(result.messages.join('\n')).toBe('');
      expect(result.ok).toBe(true);
    },
  );
});

describe('webgpu refuses what it does not implement', () => {
  it.each(windowed.map((c) => [c.name, c] as const))('%s: a BackendError naming sliding_window', async (_name, c) => {
    const weights = randomModelWeights(c.spec, 1, 'f32');
    await expect(backend.createSession(weights, { maxContext: 32 })).rejects.toMatchObject({
      name: 'BackendError',
      message: expect.stringContaining(`sliding_window ${c.spec.slidingWindow}`),
    });
    // A context inside the window is plain causal attention: that runs.
    const session = await backend.createSession(weights, { maxContext: c.spec.slidingWindow! });
    expect((await session.forward([1, 2, 3])).logits.length).toBe(c.spec.vocab);
    session.dispose();
  });
});
