/** RoPE frequencies, shared by every place that rotates or stores them. */
import type { RopeScaling } from './spec.ts';

/**
 * The rotation speed of pair j, theta^(−2j/headDim), with Llama 3's scaling when given
 * (RopeScaling; transformers `_compute_llama3_parameters`, in f64). Every backend's RoPE reads
 * its frequencies from here: the CPU and WASM angles, the WebGPU table, the GGUF rope_freqs.
 */
export function ropeInverseFrequency(pair: number, headDim: number, theta: number, scaling?: RopeScaling): number {
  const frequency = 1 / theta ** ((2 * pair) / headDim);
  if (!scaling) return frequency;
  if (scaling.type === 'factors') return frequency / scaling.factors[pair]!;
  const { factor, lowFreqFactor, highFreqFactor, originalContext } = scaling;
  const wavelength = (2 * Math.PI) / frequency;
  if (wavelength < originalContext / highFreqFactor) return frequency; // high frequencies: unchanged
  if (wavelength > originalContext / lowFreqFactor) return frequency / factor; // low: factor times slower
  const smooth = (originalContext / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
  return ((1 - smooth) * frequency) / factor + smooth * frequency;
}
