/**
 * Medians and the bench/RESULTS.md table. Per run: decode tok/s = 1000 / median gap between
 * generated tokens; prefill tok/s = prompt tokens / TTFT (TTFT = prompt in → first token
 * out, so it includes one sampling step). Each cell is the median over repeated runs.
 */
import type { Bandwidth } from './bandwidth.ts';
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
  coresBusy: number;
  counters?: Record<string, number>;
  weightBytesPerToken?: number;
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
    coresBusy: median(runs.map((r) => r.coresBusy ?? NaN)),
    counters: runs.at(-1)!.counters,
    weightBytesPerToken: first.weightBytesPerToken,
    note: [
      runs.at(-1)!.note,
      first.crossOriginIsolated === undefined ? '' : `crossOriginIsolated ${first.crossOriginIsolated}`,
    ]
      .filter(Boolean)
      .join('; '),
  };
}

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

export function resultsTable(rows: RowSummary[]): string {
  const lines = [
    '| model | engine | threads | decode tok/s | prefill tok/s | TTFT ms | cores busy | peak RSS MB | runs |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.model} | ${r.engine} | ${r.threads} | ${fmt(r.decodeTokPerSec)} | ${fmt(r.prefillTokPerSec)} | ${fmt(r.ttftMs, 0)} | ${fmt(r.coresBusy, 2)} | ${fmt(r.peakRssMb, 0)} | ${r.runs} |`,
    );
  }
  return lines.join('\n');
}

const OURS = 'moe-studio wasm';
const NATIVE = 'llama.cpp native';
const isPeer = (engine: string) => engine.startsWith('wllama');

/**
 * Every engine against native llama.cpp, and ours against each wllama build, at the same
 * thread count. The engine column is the peer's label: its version and settings.
 */
export function ratioTable(rows: RowSummary[]): string {
  const lines = [
    '| model | threads | engine | decode ÷ native | prefill ÷ native | ours ÷ it, decode | ours ÷ it, prefill |',
    '|---|---:|---|---:|---:|---:|---:|',
  ];
  const groups = [...new Set(rows.map((r) => JSON.stringify([r.model, r.threads])))].map(
    (g) => JSON.parse(g) as [string, number],
  );
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? fmt(a / b, 2) : '—');
  for (const [model, threads] of groups) {
    const inGroup = rows.filter((r) => r.model === model && r.threads === threads);
    const native = inGroup.find((r) => r.engine === NATIVE);
    const ours = inGroup.find((r) => r.engine === OURS);
    for (const row of inGroup) {
      if (row.engine === NATIVE || !(row.engine === OURS || isPeer(row.engine))) continue;
      const vsOurs =
        row.engine === OURS
          ? ['—', '—']
          : [ratio(ours?.decodeTokPerSec, row.decodeTokPerSec), ratio(ours?.prefillTokPerSec, row.prefillTokPerSec)];
      lines.push(
        `| ${model} | ${threads} | ${row.engine} | ${ratio(row.decodeTokPerSec, native?.decodeTokPerSec)} | ${ratio(row.prefillTokPerSec, native?.prefillTokPerSec)} | ${vsOurs.join(' | ')} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Each engine at 2 threads ÷ itself at 1 thread: what its second thread buys. */
export function threadScalingTable(rows: RowSummary[]): string {
  const lines = [
    '| model | engine | decode 2t ÷ 1t | prefill 2t ÷ 1t | cores busy at 2t |',
    '|---|---|---:|---:|---:|',
  ];
  for (const two of rows.filter((r) => r.threads === 2)) {
    const one = rows.find((r) => r.model === two.model && r.engine === two.engine && r.threads === 1);
    if (!one) continue;
    lines.push(
      `| ${two.model} | ${two.engine} | ${fmt(two.decodeTokPerSec / one.decodeTokPerSec, 2)} | ${fmt(two.prefillTokPerSec / one.prefillTokPerSec, 2)} | ${fmt(two.coresBusy, 2)} |`,
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

/**
 * Decode against the memory-bandwidth roofline: an engine that reads every active weight once
 * per token can reach at most (its read bandwidth ÷ its weight bytes per token) tok/s. Each
 * CPU engine's row uses its own bytes (ours repacks q4_0/q8_0 with f32 scales: 20 / 36 bytes a
 * block of 32, ggml's 18 / 34) and its own runtime's bandwidth at the same thread count.
 */
export function rooflineTable(rows: RowSummary[], bandwidth: Bandwidth[]): string {
  const lines = [
    '| model | engine | threads | weight MB read / token | read GB/s (copy GB/s) | roofline tok/s | decode tok/s | decode ÷ roofline |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const runtime = r.engine === 'moe-studio wasm' ? 'wasm' : r.engine === 'llama.cpp native' ? 'native' : undefined;
    const bw = bandwidth.find((b) => b.engine === runtime && b.threads === r.threads);
    if (!bw || !r.weightBytesPerToken) continue;
    const roofline = bw.readBytesPerSecond / r.weightBytesPerToken;
    lines.push(
      `| ${r.model} | ${r.engine} | ${r.threads} | ${fmt(r.weightBytesPerToken / 1e6)} | ${fmt(bw.readBytesPerSecond / 1e9)} (${fmt(bw.copyBytesPerSecond / 1e9)}) | ${fmt(roofline, 0)} | ${fmt(r.decodeTokPerSec)} | ${fmt(r.decodeTokPerSec / roofline, 2)} |`,
    );
  }
  return lines.length > 2
    ? lines.join('\n')
    : '_No bandwidth measured in this run (it needs the wasm or native engine)._';
}
