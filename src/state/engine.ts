/**
 * Engine status as the UI shows it: which model is loaded, on which backend and why,
 * load progress, speeds. Actions call the comlink engine.
 */
import { create } from 'zustand';
import { markPhase } from '../core/io/marks.ts';
import type { LoadProgress } from '../core/io/progress.ts';
import { engineCallback, engineClient, engineClientOnCrash, engineClientWarmUp } from './workers.ts';
import type { BackendChoice, BackendReport, ModelRef, EngineState, ModelSummary } from '../../workers/engine/api.ts';
import { useSettings } from './settings.ts';

export interface EngineUiState {
  state: EngineState;
  model?: ModelSummary;
  backend?: BackendReport;
  progress?: LoadProgress;
  prefillTokPerSec?: number;
  decodeTokPerSec?: number;
}

const initialEngine: EngineUiState = { state: { kind: 'empty' } };
export const useEngine = create<EngineUiState>()(() => ({ ...initialEngine }));

engineClientOnCrash((message) =>
  useEngine.setState({
    state: {
      kind: 'failed',
      errorName: 'BackendError',
      message: `The engine worker stopped (${message}); load the model again to restart it. Your conversations are kept.`,
    },
    model: undefined,
    backend: undefined,
  }),
);

export function engineReset(): void {
  useEngine.setState({ ...initialEngine }, true);
}

let loadSeq = 0;

/** A model small enough to load at every start on a guess: a URL folder (the zoo) of at most 64 MiB. */
const PRELOAD_MAX_BYTES = 64 * 2 ** 20;
function preloadable(ref: ModelRef): boolean {
  if (ref.kind !== 'url' || ref.files.some((f) => f.size === undefined)) return false;
  return ref.files.reduce((sum, f) => sum + f.size!, 0) <= PRELOAD_MAX_BYTES;
}

/** The engine worker starts and warms up, preloading the model chatted with last (App, after its first render). */
export function engineWarmUp(): void {
  const { preloadModel, backendChoice } = useSettings.getState();
  engineClientWarmUp(preloadModel ? { ref: preloadModel, choice: backendChoice } : undefined);
}

/**
 * The engine's state once no load is in flight: at once when none is, else when the latest
 * load ends (ready or failed), or undefined when `signal` aborts first. A message sent while
 * its model loads waits here (chat.ts), so typing and sending overlap the load.
 */
export function engineSettled(signal?: AbortSignal): Promise<EngineUiState['state'] | undefined> {
  return new Promise((resolve) => {
    const done = (state: EngineUiState['state'] | undefined) => {
      unsubscribe();
      signal?.removeEventListener('abort', aborted);
      resolve(state);
    };
    const aborted = () => done(undefined);
    const unsubscribe = useEngine.subscribe((s) => {
      if (s.state.kind !== 'loading') done(s.state);
    });
    signal?.addEventListener('abort', aborted);
    const now = useEngine.getState().state;
    if (signal?.aborted) done(undefined);
    else if (now.kind !== 'loading') done(now);
  });
}

export async function engineLoad(ref: ModelRef): Promise<boolean> {
  const seq = ++loadSeq;
  markPhase('moe:load-start');
  useEngine.setState({ state: { kind: 'loading', modelId: ref.id }, progress: undefined, model: undefined });
  try {
    const choice = useSettings.getState().backendChoice;
    const onProgress = engineCallback((p: LoadProgress) => {
      if (seq === loadSeq) useEngine.setState({ progress: p });
    });
    const result = await engineClient().load(ref, choice, onProgress);
    if (seq !== loadSeq) return false;
    markPhase('moe:engine-ready');
    useSettings.setState({ preloadModel: preloadable(ref) ? ref : undefined });
    useEngine.setState({
      state: { kind: 'ready', modelId: ref.id },
      model: result.model,
      backend: result.backend,
      prefillTokPerSec: undefined,
      decodeTokPerSec: undefined,
    });
    return true;
  } catch (e) {
    const err = e as Error;
    if (seq === loadSeq)
      useEngine.setState({ state: { kind: 'failed', modelId: ref.id, errorName: err.name, message: err.message } });
    return false;
  }
}

export async function engineSetBackend(choice: BackendChoice): Promise<void> {
  useSettings.setState({ backendChoice: choice });
  if (useEngine.getState().state.kind !== 'ready') return;
  try {
    const backend = await engineClient().setBackend(choice);
    // The last answer's speeds belong to the old backend: show none until the new one answers.
    useEngine.setState({ backend, prefillTokPerSec: undefined, decodeTokPerSec: undefined });
  } catch (e) {
    useEngine.setState({
      backend: { name: useEngine.getState().backend?.name ?? 'cpu', reason: (e as Error).message },
    });
  }
}
