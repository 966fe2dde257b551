/**
 * The merge host's calibration bookkeeping: the key a kept calibration is found by (the
 * composition and the texts it was fitted to), and the before/after summary Compose shows
 * and the model's manifest notes keep.
 */
import type { CalibratedMergeRun } from '../../src/core/calibrate/calibrate-merge.ts';
import type { RoutingEvaluation } from '../../src/core/calibrate/evaluate.ts';
import type { CalibrationText } from '../../src/core/calibrate/texts.ts';
import { sha256Hex } from '../../src/core/io/sha256.ts';
import type { MergeCalibrationRequest, MergeCalibrationSummary, MergeRoutingSummary, ModelSources } from './api.ts';

export interface CachedCalibration {
  key: string;
  run: CalibratedMergeRun;
  summary: MergeCalibrationSummary;
}

/** sha256 of the yaml, the sources and the request (texts and settings): a build with the same key reuses the fit. */
export function calibrationKey(yaml: string, sources: ModelSources, request: MergeCalibrationRequest): string {
  const canonical = JSON.stringify({
    yaml,
    sources: Object.entries(sources).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    method: request.method ?? null,
    windowTokens: request.windowTokens ?? null,
    texts: request.texts.map((t) => [t.expert, t.text]),
  });
  return sha256Hex(new TextEncoder().encode(canonical));
}

const finite = (v: number) => (Number.isFinite(v) ? v : null);

function routingSummary(e: RoutingEvaluation, experts: number): MergeRoutingSummary {
  return {
    ownShare: e.ownShare.slice(0, experts).map((byLayer) => byLayer.map(finite)),
    perplexity: e.perplexity.slice(0, experts).map(finite),
  };
}

export function calibrationSummary(
  run: CalibratedMergeRun,
  texts: CalibrationText[],
  experts: number,
  scoredTextsPerExpert: number,
  seconds: number,
): MergeCalibrationSummary {
  if (!run.before || !run.after) throw new Error('calibrate: the host asks for evaluate: true');
  const textsPerExpert = new Array<number>(experts).fill(0);
  for (const t of texts) textsPerExpert[t.expert]++;
  const { method, texts: count, tokens, windowTokens, windowing, dataSha256 } = run.record;
  return {
    method,
    texts: count,
    tokens,
    windowTokens,
    windowing,
    dataSha256,
    textsPerExpert,
    scoredTextsPerExpert,
    before: routingSummary(run.before, experts),
    after: routingSummary(run.after, experts),
    seconds,
  };
}
