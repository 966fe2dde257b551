import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { probeWebGpu } from '../../core/runtime/webgpu/probe.ts';
import { useEngine } from '../../state/engine.ts';

/**
 * Which backend runs and why (data-testid="backend", checked by e2e/smoke.spec.ts). Before a
 * model is loaded it reports what this browser offers: a WebGPU adapter or the CPU fallback.
 */
export function BackendStatus() {
  const { backend, decode } = useEngine(useShallow((s) => ({ backend: s.backend, decode: s.decodeTokPerSec })));
  const [probe, setProbe] = useState('Probing compute backends…');
  useEffect(() => {
    probeWebGpu(navigator.gpu).then(
      (p) => setProbe(p.adapter ? `WebGPU adapter: ${p.adapter}` : `CPU fallback: ${p.description}`),
      (e: Error) => setProbe(`CPU fallback: ${e.message}`),
    );
  }, []);
  return (
    <p role="status" className="backend-status" data-testid="backend" title={backend?.reason}>
      {backend ? `Backend: ${backend.name} (${backend.reason})${decode ? ` · ${decode.toFixed(1)} tok/s` : ''}` : probe}
    </p>
  );
}
