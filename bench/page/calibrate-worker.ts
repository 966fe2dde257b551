/**
 * Dedicated worker for the bench's tab calibration row: the zoo MoE merged in memory from the
 * zoo files over HTTP, then calibrateMergedModel with its defaults on the built-in texts — the
 * code the merge worker runs for Compose's "Calibrate router" step, minus the UI and the
 * before/after scoring. One request, one reply.
 */
import { calibrateMergedModel } from '../../src/core/calibrate/merged.ts';
import type { CalibrationText } from '../../src/core/calibrate/texts.ts';
import { fetchFileSet } from '../../src/core/hub/fetch-file-set.ts';
import { buildMergeInMemory } from '../../src/core/merge/build.ts';

export interface CalibrateRequest {
  /** URL of public/ (the zoo folders are `<publicUrl>/<ref.path>/`). */
  publicUrl: string;
  /** Files of each zoo folder the YAML names, by ref.path. */
  folders: Record<string, string[]>;
  yaml: string;
  texts: CalibrationText[];
}

export interface CalibrateRun {
  /** The calibration alone (calibrateMergedModel), as the bench's Node rows time it. */
  seconds: number;
  tokens: number;
  split: Record<string, number>; // seconds per progress phase
}

type Merged = Awaited<ReturnType<typeof buildMergeInMemory>>;
let merged: { built: Merged; texts: CalibrationText[] } | undefined;

/** 'merge': merge the zoo in memory and keep it (answers its seconds); 'calibrate': calibrate the kept merge. */
async function handle(message: { kind: 'merge'; request: CalibrateRequest } | { kind: 'calibrate' }) {
  if (message.kind === 'merge') {
    const { publicUrl, folders, yaml, texts } = message.request;
    const started = performance.now();
    const built = await buildMergeInMemory(yaml, async (ref) => {
      const names = folders[ref.path];
      if (!names) throw new Error(`bench: no file list for ${ref.path}`);
      return fetchFileSet(
        fetch,
        `${publicUrl}/${ref.path}`,
        names.map((name) => ({ name })),
        ref.path,
      );
    });
    merged = { built, texts };
    return { mergeSeconds: (performance.now() - started) / 1000 };
  }
  if (!merged) throw new Error('bench: calibrate before merge');
  const split: Record<string, number> = {};
  let phase = 'start';
  let mark = performance.now();
  const started = mark;
  const fitted = await calibrateMergedModel(merged.built.model!.weights, merged.built.model!.tokenizer!, merged.texts, {
    onProgress: (p) => {
      if (p.phase === phase) return;
      split[phase] = (split[phase] ?? 0) + (performance.now() - mark) / 1000;
      phase = p.phase;
      mark = performance.now();
    },
  });
  split[phase] = (split[phase] ?? 0) + (performance.now() - mark) / 1000;
  const run: CalibrateRun = { seconds: (performance.now() - started) / 1000, tokens: fitted.record.tokens, split };
  return run;
}

self.onmessage = async (event: MessageEvent<Parameters<typeof handle>[0]>) => {
  try {
    self.postMessage({ ok: true, result: await handle(event.data) });
  } catch (error) {
    self.postMessage({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
};
