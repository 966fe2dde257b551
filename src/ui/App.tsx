import { useEffect, useState } from 'react';

type Probe = { kind: 'probing' } | { kind: 'webgpu'; adapter: string } | { kind: 'cpu'; reason: string };

/** Placeholder shell: reports which compute backend this browser offers. */
export function App() {
  const [probe, setProbe] = useState<Probe>({ kind: 'probing' });
  useEffect(() => {
    (async () => {
      if (!('gpu' in navigator)) return setProbe({ kind: 'cpu', reason: 'WebGPU is not available in this browser' });
      const adapter = await navigator.gpu.requestAdapter();
      if (!adapter) return setProbe({ kind: 'cpu', reason: 'no WebGPU adapter' });
      setProbe({ kind: 'webgpu', adapter: `${adapter.info.vendor} ${adapter.info.architecture}` });
    })().catch((e) => setProbe({ kind: 'cpu', reason: String(e) }));
  }, []);
  return (
    <main>
      <h1>MoE Studio</h1>
      <p role="status" data-testid="backend">
        {probe.kind === 'probing' && 'Probing compute backends…'}
        {probe.kind === 'webgpu' && `WebGPU adapter: ${probe.adapter}`}
        {probe.kind === 'cpu' && `CPU fallback: ${probe.reason}`}
      </p>
    </main>
  );
}
