/**
 * Which compute backend runs, and why (DESIGN.md runtime/): WebGPU when a real
 * (non-fallback) adapter exists, WASM SIMD otherwise, the CPU reference as the last resort;
 * the user may override. Backends open through the core's openBackend with this thread's
 * platform options (navigator.gpu, the WASM pool's thread count).
 */
import { openBackend, type PlatformOptions } from '../../src/core/runtime/backends.ts';
import { probeWebGpu } from '../../src/core/runtime/webgpu/probe.ts';
import { cpuBackend } from '../../src/core/runtime/cpu/backend.ts';
import { cpuSessionBytes } from '../../src/core/runtime/cpu/model-f32.ts';
import { WASM32_MAX_BYTES } from '../../src/core/runtime/wasm/arena.ts';
import type { BackendName, Session } from '../../src/core/runtime/types.ts';
import type { ExportableWeights } from '../../src/core/model/weights.ts';
import type { BackendChoice, BackendReport } from './api.ts';

/** navigator.gpu where this thread has one (a tab or a dedicated worker). */
function browserGpu(): GPU | undefined {
  return (globalThis.navigator as Navigator | undefined)?.gpu;
}

/** The tab's platform options: its GPU, and a WASM pool of `threads` (default: up to two). */
export function browserPlatform(threads?: number): PlatformOptions {
  return {
    wasm: { threads: threads ?? Math.min(2, globalThis.navigator?.hardwareConcurrency || 1) },
    webgpu: { gpu: browserGpu() },
  };
}

/** The order to try backends in for a choice; each with the reason it would be picked. */
export async function backendCandidates(choice: BackendChoice): Promise<{ name: BackendName; reason: string }[]> {
  if (choice === 'cpu') return [{ name: 'cpu', reason: 'chosen by you' }];
  if (choice === 'wasm')
    return [
      { name: 'wasm', reason: 'chosen by you' },
      { name: 'cpu', reason: '' },
    ];
  if (choice === 'webgpu')
    return [
      { name: 'webgpu', reason: 'chosen by you' },
      { name: 'wasm', reason: '' },
      { name: 'cpu', reason: '' },
    ];
  const probe = await probeWebGpu(browserGpu());
  const list: { name: BackendName; reason: string }[] = [];
  if (probe.real) list.push({ name: 'webgpu', reason: `auto: ${probe.description}` });
  list.push({ name: 'wasm', reason: `auto: ${probe.real ? '' : `${probe.description}, so WASM SIMD is fastest`}` });
  list.push({ name: 'cpu', reason: 'auto' });
  return list;
}

/**
 * The most memory the CPU reference may take as a fallback (not chosen by the user): it holds
 * every weight in f32, 7× a q4_0 file, so a model the wasm backend refused for wasm32's 4 GiB
 * would take gigabytes more in the reference and bring the tab down mid-load. Capped at the
 * same 4 GiB, it is refused before reading, and the report says why.
 */
export const CPU_FALLBACK_MAX_BYTES = WASM32_MAX_BYTES;

const gb = (bytes: number) => (bytes / 1e9).toFixed(2);

/** Why the CPU reference may not take over for this model (undefined: it may). */
export function cpuFallbackRefusal(weights: ExportableWeights, maxContext: number): string | undefined {
  const bytes = cpuSessionBytes(weights, maxContext);
  if (bytes <= CPU_FALLBACK_MAX_BYTES) return undefined;
  return `cpu not tried: the reference would hold ${gb(bytes)} GB of f32 weights and KV cache, more than its ${gb(CPU_FALLBACK_MAX_BYTES)} GB cap as a fallback`;
}

export interface OpenedSession {
  session: Session;
  report: BackendReport;
}

/** Tries each candidate until one creates a session; the report says what failed on the way. */
export async function openSessionWithFallback(
  weights: ExportableWeights,
  choice: BackendChoice,
  maxContext: number,
  platform: PlatformOptions = browserPlatform(),
): Promise<OpenedSession> {
  const failures: string[] = [];
  for (const candidate of await backendCandidates(choice)) {
    const refusal = candidate.name === 'cpu' && choice !== 'cpu' ? cpuFallbackRefusal(weights, maxContext) : undefined;
    if (refusal) {
      failures.push(refusal);
      continue;
    }
    try {
      const backend = await openBackend(candidate.name, platform);
      const session = await backend.createSession(weights, { maxContext });
      const reason = failures.length ? `${failures.join('; ')} → ${candidate.name} took over` : candidate.reason;
      return { session, report: { name: candidate.name, reason } };
    } catch (e) {
      failures.push(`${candidate.name} failed: ${(e as Error).message}`);
    }
  }
  throw Object.assign(new Error(`engine: no backend could run this model (${failures.join('; ')})`), {
    name: 'BackendError',
  });
}

/** After a failure mid-generation: the CPU reference takes over. */
export async function openCpuSession(
  weights: ExportableWeights,
  maxContext: number,
  failure: string,
): Promise<OpenedSession> {
  const refusal = cpuFallbackRefusal(weights, maxContext);
  if (refusal) throw Object.assign(new Error(`engine: ${failure}; ${refusal}`), { name: 'BackendError' });
  const session = await cpuBackend.createSession(weights, { maxContext });
  return { session, report: { name: 'cpu', reason: `${failure} → the CPU backend took over` } };
}
