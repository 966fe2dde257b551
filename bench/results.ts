/**
 * Medians and the bench/RESULTS.md table. Per run: decode tok/s = 1000 / median gap between
 * generated tokens; prefill tok/s = prompt tokens / TTFT (TTFT = prompt in → first token
 * out, so it includes one sampling step). Each cell is the median over repeated runs.
 */
import type { EngineRun } from './page/engines.ts';

export interface RowSummary {
  model: string;
  engine: string;
  runs: number;
  threads: number;
  decodeTokPerSec: number;
  prefillTokPerSec: number;
  ttftMs: number;
  peakRssMb: number;
  counters?: Record<string, number>;
  note?: string;
}

export function median(values: number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

export function summarize(model: string, promptTokens: number, runs: EngineRun[]): RowSummary {
  const first = runs[0]!;
  return {
    model,
    engine: first.engine,
    runs: runs.length,
    threads: first.threads,
    decodeTokPerSec: median(runs.map((r) => 1000 / median(r.decodeMs))),
    prefillTokPerSec: median(runs.map((r) => (promptTokens * 1000) / r.ttftMs)),
    ttftMs: median(runs.map((r) => r.ttftMs)),
    peakRssMb: median(runs.map((r) => (r.peakRssBytes ?? NaN) / 2 ** 20)),
    counters: runs.at(-1)!.counters,
    note: runs.at(-1)!.note,
  };
}

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

export function resultsTable(rows: RowSummary[]): string {
  const lines = [
    '| model | engine | threads | decode tok/s | prefill tok/s | TTFT ms | peak RSS MB | runs |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.model} | ${r.engine} | ${r.threads} | ${fmt(r.decodeTokPerSec)} | ${fmt(r.prefillTokPerSec)} | ${fmt(r.ttftMs, 0)} | ${fmt(r.peakRssMb, 0)} | ${r.runs} |`,
    );
  }
  return lines.join('\n');
}

/** Ours ÷ wllama and ours ÷ native per model, against the targets (≥ 1.5× and ≥ 0.5×). */
export function ratioTable(rows: RowSummary[]): string {
  const lines = [
    '| model | threads | decode ÷ wllama (target ≥ 1.5) | decode ÷ native (target ≥ 0.5) | prefill ÷ wllama | prefill ÷ native |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const groups = [...new Set(rows.map((r) => JSON.stringify([r.model, r.threads])))].map(
    (g) => JSON.parse(g) as [string, number],
  );
  for (const [model, threads] of groups) {
    const of = (engine: string) => rows.find((r) => r.model === model && r.threads === threads && r.engine === engine);
    const ours = of('moe-studio wasm');
    const wllama = of('wllama');
    const native = of('llama.cpp native');
    if (!ours) continue;
    const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? fmt(a / b, 2) : '—');
    const verdict = (value: string, target: number) =>
      value === '—' ? value : `${value} ${Number(value) >= target ? '✅' : '❌'}`;
    lines.push(
      `| ${model} | ${threads} | ${verdict(ratio(ours.decodeTokPerSec, wllama?.decodeTokPerSec), 1.5)} | ${verdict(ratio(ours.decodeTokPerSec, native?.decodeTokPerSec), 0.5)} | ${ratio(ours.prefillTokPerSec, wllama?.prefillTokPerSec)} | ${ratio(ours.prefillTokPerSec, native?.prefillTokPerSec)} |`,
    );
  }
  return lines.join('\n');
}

export function countersTable(rows: RowSummary[]): string {
  const gpu = rows.filter((r) => r.counters);
  if (gpu.length === 0) return '_The WebGPU backend exposed no counters in this run._';
  const lines = [
    '| model | dispatches / token | submits | syncs | weight bytes read ÷ active bytes |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const r of gpu) {
    const c = r.counters!;
    lines.push(
      `| ${r.model} | ${c.dispatches} | ${c.submits} | ${c.syncs} | ${fmt(c.weightBytesRead! / c.activeWeightBytesPerToken!, 2)} |`,
    );
  }
  return lines.join('\n');
}
