/**
 * Which compute backend runs, and why (DESIGN.md runtime/, issue "engine worker"):
 * WebGPU when a real (non-fallback) adapter exists, WASM SIMD otherwise, the CPU reference
 * as the last resort; the user may override. Backends are found through import.meta.glob so
 * the app still builds while an area's backend is missing; a missing one is a stated reason.
 */
import { cpuBackend } from '../../core/runtime/cpu/backend.ts';
import type { Backend, BackendName, Session } from '../../core/runtime/types.ts';
import type { ModelWeights } from '../../core/model/weights.ts';
import type { BackendChoice, BackendReport } from './engine-types.ts';

type BackendModule = Record<string, unknown>;
const optionalBackends = import.meta.glob<BackendModule>([
  '../../core/runtime/webgpu/backend.ts',
  '../../core/runtime/wasm/backend.ts',
]);

async function loadOptional(name: 'webgpu' | 'wasm'): Promise<Backend> {
  const path = `../../core/runtime/${name}/backend.ts`;
  const importer = optionalBackends[path];
  if (!importer) throw new Error(`the ${name} backend is not part of this build`);
  const mod = await importer();
  const factory = (name === 'webgpu' ? mod.createWebGpuBackend : mod.createWasmBackend) as
    | ((o?: object) => Promise<Backend>)
    | undefined;
  if (!factory) throw new Error(`the ${name} backend module has no factory`);
  return factory(name === 'wasm' ? { threads: Math.min(2, navigator.hardwareConcurrency || 1) } : undefined);
}

/** Describes the WebGPU adapter, or says why there is no real one. */
export async function probeWebGpu(): Promise<{ real: boolean; adapter?: string; description: string }> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return { real: false, description: 'WebGPU is not available here' };
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return { real: false, description: 'no WebGPU adapter' };
  const info = adapter.info;
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  const label = `${info.vendor || 'unknown vendor'} ${info.architecture || ''}`.trim();
  return fallback || info.architecture === 'swiftshader'
    ? { real: false, adapter: `${label} (fallback)`, description: `only a fallback WebGPU adapter (${label})` }
    : { real: true, adapter: label, description: `WebGPU adapter ${label}` };
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
  const probe = await probeWebGpu();
  const list: { name: BackendName; reason: string }[] = [];
  if (probe.real) list.push({ name: 'webgpu', reason: `auto: ${probe.description}` });
  list.push({ name: 'wasm', reason: `auto: ${probe.real ? '' : `${probe.description}, so WASM SIMD is fastest`}` });
  list.push({ name: 'cpu', reason: 'auto' });
  return list;
}

export interface OpenedSession {
  session: Session;
  report: BackendReport;
}

/** Tries each candidate until one creates a session; the report says what failed on the way. */
export async function openSessionWithFallback(
  weights: ModelWeights,
  choice: BackendChoice,
  maxContext: number,
): Promise<OpenedSession> {
  const failures: string[] = [];
  for (const candidate of await backendCandidates(choice)) {
    try {
      const backend = candidate.name === 'cpu' ? cpuBackend : await loadOptional(candidate.name);
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
  weights: ModelWeights,
  maxContext: number,
  failure: string,
): Promise<OpenedSession> {
  const session = await cpuBackend.createSession(weights, { maxContext });
  return { session, report: { name: 'cpu', reason: `${failure} → the CPU backend took over` } };
}
