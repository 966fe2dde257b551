import { describe, expect, it } from 'vitest';
import { CONFORMANCE_CASES, runBackendConformance, runConformanceCase } from './conformance.testing.ts';
import { cpuBackend, cpuBackendQ8x } from './backend.ts';
import type { Backend, ForwardOptions, ForwardResult, Session } from '../types.ts';
import { createWasmBackend } from '../wasm/backend.ts';

/** A backend that runs the reference but corrupts its answers in one way (proves the checks can fail). */
function brokenBackend(
  corrupt: (result: ForwardResult) => ForwardResult,
  dropOptions?: (o: ForwardOptions) => ForwardOptions,
): Backend {
  return {
    name: 'wasm',
    async createSession(weights, options) {
      const inner = await cpuBackend.createSession(weights, options);
      const session: Session = {
        backend: 'wasm',
        get position() {
          return inner.position;
        },
        get maxContext() {
          return inner.maxContext;
        },
        async forward(tokenIds, o = {}) {
          return corrupt(await inner.forward(tokenIds, dropOptions ? dropOptions(o) : o));
        },
        truncate: (p) => inner.truncate(p),
        dispose: () => inner.dispose(),
      };
      return session;
    },
  };
}

describe('backend conformance harness', () => {
  it.each(['f32', 'f16', 'q8_0', 'q4_0'] as const)('the reference conforms to itself in %s', async (dtype) => {
    const results = await runBackendConformance(cpuBackend, [dtype]);
    expect(results).toHaveLength(CONFORMANCE_CASES.length);
    for (const r of results) expect(r.messages, `${r.case} ${r.dtype}`).toEqual([]);
  });

  it('catches logits off by more than the tolerance', async () => {
    const off = brokenBackend((r) => ({ ...r, logits: r.logits.map((x, i) => (i === 5 ? x + 0.01 : x)) }));
    const result = await runConformanceCase(off, CONFORMANCE_CASES[0], 'f32');
    expect(result.ok).toBe(false);
    expect(result.messages[0]).toMatch(/step 0 logits: worst \|error\| .* at \[5\]/);
  });

  it.each([
    ['windows every layer (ignores max_window_layers)', { slidingWindowFirstLayer: undefined }],
    ['windows no layer', { slidingWindow: undefined, slidingWindowFirstLayer: undefined }],
  ])("catches a backend that %s on Qwen2's partial sliding window", async (_, patch) => {
    const wrong: Backend = {
      name: 'wasm',
      createSession: (weights, options) =>
        cpuBackend.createSession({ ...weights, spec: { ...weights.spec, ...patch } }, options),
    };
    const qwen = CONFORMANCE_CASES.find((c) => c.spec.slidingWindowFirstLayer !== undefined)!;
    const result = await runConformanceCase(wrong, qwen, 'f32');
    expect(result.ok).toBe(false);
  });

  it("catches a backend that runs plain RoPE on Llama 3's scaled RoPE", async () => {
    const plainRope: Backend = {
      name: 'wasm',
      createSession: (weights, options) =>
        cpuBackend.createSession({ ...weights, spec: { ...weights.spec, ropeScaling: undefined } }, options),
    };
    const llama3 = CONFORMANCE_CASES.find((c) => c.spec.ropeScaling)!;
    const result = await runConformanceCase(plainRope, llama3, 'f32');
    expect(result.ok).toBe(false);
    expect(result.messages[0]).toMatch(/step 0 logits: worst \|error\|/);
  });

  it("catches a backend that skips Qwen3's q/k norm", async () => {
    const noQkNorm: Backend = {
      name: 'wasm',
      createSession: (weights, options) =>
        cpuBackend.createSession(
          { ...weights, layers: weights.layers.map(({ qNorm: _q, kNorm: _k, ...l }) => l) },
          options,
        ),
    };
    const qwen3 = CONFORMANCE_CASES.find((c) => c.spec.arch === 'qwen3')!;
    const result = await runConformanceCase(noQkNorm, qwen3, 'f32');
    expect(result.ok).toBe(false);
    expect(result.messages[0]).toMatch(/step 0 logits: worst \|error\|/);
  });

  it('catches a backend that ignores routing overrides', async () => {
    const ignoring = brokenBackend(
      (r) => r,
      (o) => ({ ...o, routing: undefined }),
    );
    const overrides = CONFORMANCE_CASES.find((c) => c.name.includes('overrides'))!;
    const result = await runConformanceCase(ignoring, overrides, 'f32');
    expect(result.ok).toBe(false);
    expect(result.messages.some((m) => /expertIds/.test(m))).toBe(true);
  });

  it('catches missing layer inputs and wrong shared gates', async () => {
    const noInputs = brokenBackend((r) => ({ ...r, layerInputs: undefined }));
    const capture = CONFORMANCE_CASES.find((c) => c.name.includes('captureLayerInputs'))!;
    expect((await runConformanceCase(noInputs, capture, 'f32')).messages[0]).toMatch(/layerInputs missing/);
    const badGate = brokenBackend((r) => ({
      ...r,
      routing: r.routing?.map((t) => ({ layers: t.layers.map((l) => ({ ...l, sharedGate: 0.5 })) })),
    }));
    const qwen = CONFORMANCE_CASES.find((c) => c.name.startsWith('qwen2_moe'))!;
    expect((await runConformanceCase(badGate, qwen, 'f32')).messages.some((m) => /sharedGate 0.5 vs/.test(m))).toBe(
      true,
    );
  });
});

/** The Node-runnable fast backends through the same table (webgpu runs it in Chromium: webgpu/conformance.browser.test.ts). */
const nodeBackends: [string, () => Promise<Backend>][] = [['wasm', () => createWasmBackend()]];

describe.each(nodeBackends)('%s backend conforms to the CPU reference', (_, create) => {
  it.each(['f32', 'f16', 'bf16', 'q8_0', 'q4_0'] as const)('every case with %s weights', async (dtype) => {
    const backend = await create();
    // the WASM q4_0 kernels read 8-bit activations (as llama.cpp's): so does their reference
    const results = await runBackendConformance(backend, [dtype], (d) => (d === 'q4_0' ? cpuBackendQ8x : cpuBackend));
    for (const r of results) expect(r.messages, `${r.case} ${r.dtype}`).toEqual([]);
  });
});
