/**
 * Compose: the form, the YAML text (in sync both ways), live compatibility checks, the
 * routing preview and the build with progress and cancel. Heavy work runs in the worker.
 */
import { create } from 'zustand';
import { parseMergeYaml } from '../core/formats/mergekit-yaml.ts';
import {
  configToForm,
  formToYaml,
  locateIssues,
  type ComposeForm,
  type ExpertForm,
  type LocatedIssue,
} from './compose-yaml.ts';
import { type ComposeDraftLoad, type ComposeLayout, composeDraftLoad, composeDraftSave } from './compose-draft.ts';
import { engineCallback, mergeClient, mergeClientOnCrash, mergeTokenizerDeadline, PREVIEW_HINT } from './workers.ts';
import type { AnalyzedText } from '../../workers/engine/api.ts';
import { engineLoad } from './engine.ts';
import { libraryRefresh, useLibrary } from './library.ts';
import { libraryRefs } from './library-refs.ts';
import type {
  MergeBuildProgress,
  MergeCalibrationProgress,
  MergeCalibrationRequest,
  MergeCalibrationSummary,
  MergeCheck,
  ModelSources,
} from '../../workers/merge/api.ts';
import {
  calibrationFileTexts,
  calibrationRequestTexts,
  alignedCalibrationTexts,
  fetchZooCalibrationTexts,
  promptTexts,
  splitParagraphs,
  zooDomainOf,
  type ExpertCalibrationTexts,
} from './compose-calibration.ts';
import { uiGo } from './ui.ts';
import { appStorageEstimate, urlChunkBytes } from './kv-instance.ts';
import { checkedFetch } from '../core/hub/checked-fetch.ts';

export interface ComposeState {
  form: ComposeForm;
  yaml: string;
  /** Issues of the YAML text (parse/schema) and of the live plan check, with lines. */
  issues: LocatedIssue[];
  check?: MergeCheck;
  checking: boolean;
  layout: ComposeLayout;
  title: string;
  /** Why the saved draft was not opened, or why this one is not kept across reloads. */
  draftNote?: string;
  preview?: AnalyzedText;
  previewError?: string;
  previewBusy: boolean;
  build?: {
    status: 'running' | 'done' | 'failed' | 'cancelled';
    /** 'export': Build for export only, into a zip on disk (never the library). */
    target: 'library' | 'export';
    /** What an export wrote: "name.zip (23.4 MB)". */
    saved?: string;
    /** Cancel was pressed (a stop that follows is the person's, not a failure). */
    cancelling?: boolean;
    progress?: MergeBuildProgress;
    error?: string;
    warnings?: string[];
    id?: string;
  };
  /** Calibration texts per expert (index as in form.experts; missing entries have none). */
  calibrationTexts: ExpertCalibrationTexts[];
  calibration?: { status: 'running' | 'failed' | 'cancelled'; progress?: MergeCalibrationProgress; error?: string };
  /** The last finished calibration and the YAML it belongs to; a cancelled or failed run keeps it. */
  calibrated?: {
    yaml: string;
    request: MergeCalibrationRequest;
    summary: MergeCalibrationSummary;
    /** Expert labels (donors) when it ran. */
    labels: string[];
  };
}

const DOMAIN_PROMPTS: Record<string, string[]> = {
  stories: ['Once upon a time', 'The little girl'],
  code: ['def main():\n    for i in range(10):\n'],
  math: ['What is 12 + 7?', '7 * 8 = 56'],
  chat: ['<|user|>\nHello!<|end|>\n<|assistant|>\n'],
};

export const emptyExpert = (model = ''): ExpertForm => ({
  model,
  positive: [''],
  negative: [],
  noiseScale: '',
  residualScale: '',
});
const initialForm: ComposeForm = {
  base: '',
  experts: [],
  gateMode: 'hidden',
  expertsPerToken: 2,
  architecture: 'Mixtral',
  dtype: 'float32',
};
const initialCompose: ComposeState = {
  form: initialForm,
  yaml: formToYaml(initialForm),
  issues: [],
  checking: false,
  layout: 'classic',
  title: 'My MoE',
  previewBusy: false,
  calibrationTexts: [],
};

const draftStorage = () => (typeof localStorage === 'undefined' ? undefined : localStorage);

/** The state a stored draft opens as: its YAML (and the form parsed from it), name and layout. */
function fromDraft(load: ComposeDraftLoad): Partial<ComposeState> {
  if (load.type === 'none') return {};
  if (load.type === 'error')
    return { draftNote: `The saved draft was not opened (${load.reason}). It stays stored until you edit this one.` };
  const { yaml, title, layout } = load.draft;
  const parsed = parseMergeYaml(yaml);
  return parsed.ok
    ? { yaml, title, layout, form: configToForm(parsed.config) }
    : { yaml, title, layout, issues: locateIssues(yaml, parsed.issues) };
}

export const useCompose = create<ComposeState>()(() => ({
  ...initialCompose,
  ...fromDraft(composeDraftLoad(draftStorage())),
}));

// Every change of the YAML, the name or the layout is the new draft (compose-draft.ts).
useCompose.subscribe((s, prev) => {
  if (s.yaml === prev.yaml && s.title === prev.title && s.layout === prev.layout) return;
  const problem = composeDraftSave(draftStorage(), { yaml: s.yaml, title: s.title, layout: s.layout });
  const draftNote = problem && `This draft is not kept across reloads: ${problem}.`;
  if (draftNote !== s.draftNote) useCompose.setState({ draftNote });
});

/** The empty draft (also what is stored then). */
export function composeReset(): void {
  useCompose.setState({ ...initialCompose }, true);
}

export function composeSources(): ModelSources {
  const { zoo, stored } = useLibrary.getState();
  return Object.fromEntries(libraryRefs(zoo, stored).map((r) => [r.name, r.ref]));
}

/** Loads one of the zoo's example configs (public/zoo/<path>) into the editor. */
export async function composeLoadExample(path: string): Promise<void> {
  const url = new URL(`${import.meta.env.BASE_URL}zoo/${path}`, location.href).href;
  let yaml: string;
  try {
    yaml = await (await checkedFetch(fetch, url)).text();
  } catch (e) {
    useCompose.setState({ issues: [{ field: '', message: (e as Error).message, severity: 'error' }] });
    return;
  }
  composeSetYaml(yaml);
  const name = path.replace(/\.ya?ml$/, '').replace(/^moe-/, '');
  useCompose.setState({ title: `Zoo MoE (${name})` });
}

/** A starting point from the zoo: its base and every expert, prompts by domain. */
export function composeFromZoo(): void {
  const refs = libraryRefs(useLibrary.getState().zoo, []);
  const base = refs.find((r) => r.role === 'base');
  const experts = refs
    .filter((r) => r.role === 'expert')
    .map((r) => ({ ...emptyExpert(r.name), positive: DOMAIN_PROMPTS[r.domain ?? ''] ?? [''] }));
  composeSetForm({ ...useCompose.getState().form, base: base?.name ?? '', experts });
}

export function composeSetForm(form: ComposeForm): void {
  const yaml = formToYaml(form, useCompose.getState().yaml); // only what the form changed
  useCompose.setState({ form, yaml, preview: undefined });
  scheduleCheck();
}

export function composeSetYaml(yaml: string): void {
  const parsed = parseMergeYaml(yaml);
  if (parsed.ok) useCompose.setState({ yaml, form: configToForm(parsed.config), issues: [], preview: undefined });
  else useCompose.setState({ yaml, issues: locateIssues(yaml, parsed.issues), check: undefined });
  if (parsed.ok) scheduleCheck();
}

export function composeSet(patch: Partial<Pick<ComposeState, 'layout' | 'title'>>): void {
  useCompose.setState(patch);
  if (patch.layout !== undefined) scheduleCheck(); // its warnings depend on the layout (residual_scale)
}

let checkTimer: ReturnType<typeof setTimeout> | undefined;
let checkSeq = 0;
function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(() => void composeCheck(), 250);
}

export async function composeCheck(): Promise<void> {
  const { yaml, form, layout } = useCompose.getState();
  if (!form.base || form.experts.length === 0) {
    useCompose.setState({ check: undefined, issues: [] });
    return;
  }
  const seq = ++checkSeq;
  useCompose.setState({ checking: true });
  try {
    const check = await mergeClient().check(yaml, composeSources(), layout);
    if (seq === checkSeq) useCompose.setState({ check, issues: locateIssues(yaml, check.issues) });
  } catch (e) {
    if (seq === checkSeq)
      useCompose.setState({
        check: { ok: false, issues: [{ field: '', message: (e as Error).message, severity: 'error' }], warnings: [] },
      });
  } finally {
    if (seq === checkSeq) useCompose.setState({ checking: false });
  }
}

export async function composePreview(text: string): Promise<void> {
  useCompose.setState({ previewBusy: true, previewError: undefined });
  const deadline = mergeTokenizerDeadline('the text and the prompts', PREVIEW_HINT);
  try {
    const preview = await Promise.race([
      mergeClient().preview(useCompose.getState().yaml, composeSources(), text, engineCallback(deadline.onCall)),
      deadline.missed,
    ]);
    useCompose.setState({ preview });
  } catch (e) {
    useCompose.setState({ previewError: `${(e as Error).name}: ${(e as Error).message}`, preview: undefined });
  } finally {
    deadline.met();
    useCompose.setState({ previewBusy: false });
  }
}

// A crashed merge worker never answers the pending build: fail it visibly (the store keeps no
// half-written model: the manifest is written last) so the person can retry.
// Pending check/preview calls never settle either: clear their busy flags.
mergeClientOnCrash((message) => {
  useCompose.setState({ checking: false, previewBusy: false });
  if (useCompose.getState().calibration?.status === 'running')
    useCompose.setState({
      calibration: { status: 'failed', error: `BackendError: the merge worker stopped (${message})` },
    });
  if (useCompose.getState().build?.status === 'running') {
    useCompose.setState({
      build: {
        status: 'failed',
        target: useCompose.getState().build!.target,
        error: `BackendError: the merge worker stopped (${message}); nothing was stored. Try again, or free memory first.`,
      },
    });
  }
});

export async function composeBuild(): Promise<void> {
  const { yaml, form, layout, title } = useCompose.getState();
  const id = `merge:${title.replace(/\s+/g, '-')}:${Date.now().toString(36)}`;
  const notes = {
    experts: form.experts.map((e) => ({
      donor: e.model,
      positive: e.positive.filter((p) => p.trim()),
      negative: e.negative.filter((p) => p.trim()),
    })),
    base: form.base,
    yaml,
  };
  useCompose.setState({ build: { status: 'running', target: 'library' } });
  const onProgress = engineCallback((progress: MergeBuildProgress) =>
    useCompose.setState((s) => ({ build: { ...s.build!, progress } })),
  );
  // what the browser says it may still store: the worker refuses a merge with no room before merging
  const storage = await appStorageEstimate();
  // the base's tokenizer encodes the prompts (and the texts, if it calibrates now): a call that hangs ends the worker
  const deadline = mergeTokenizerDeadline(TOKENIZER_WORK, BUILD_HINT);
  try {
    const calibration = composeCalibrationFor(yaml);
    const result = await Promise.race([
      mergeClient().build(
        {
          yaml,
          sources: composeSources(),
          layout,
          outputId: id,
          title,
          notes,
          calibration,
          chunkBytes: urlChunkBytes(),
          storage,
        },
        onProgress,
        engineCallback(deadline.onCall),
      ),
      deadline.missed,
    ]);
    deadline.met();
    // A cancel that reached the worker after the last chance to stop (the commit) leaves a finished model: say so.
    const cancelling = useCompose.getState().build?.cancelling;
    useCompose.setState({ build: { status: 'done', target: 'library', warnings: result.warnings, id, cancelling } });
    await libraryRefresh();
    uiGo('chat');
    await engineLoad({ kind: 'store', id });
  } catch (e) {
    deadline.met();
    const err = e as Error;
    useCompose.setState({
      build: {
        status: err.name === 'CancelledError' ? 'cancelled' : 'failed',
        target: 'library',
        error: `${err.name}: ${err.message}`,
      },
    });
  }
}

/** What the merge worker's tokenizer calls encode in a build or a calibration (the deadline's message). */
const TOKENIZER_WORK = 'a prompt or a calibration text';
const BUILD_HINT = 'Nothing was stored; change the prompts or the texts and try again.';

export function composeCancel(): void {
  const build = useCompose.getState().build;
  if (build?.status !== 'running') return; // no worker start just to cancel nothing
  useCompose.setState({ build: { ...build, cancelling: true } });
  void mergeClient().cancel();
}

// ── Router calibration ───────────────────────────────────────────────────────────────────────

/** The calibration a build of `yaml` uses: the last finished one, if it was made for this YAML. */
export function composeCalibrationFor(yaml: string): MergeCalibrationRequest | undefined {
  const done = useCompose.getState().calibrated;
  return done?.yaml === yaml ? done.request : undefined;
}

function setExpertTexts(index: number, texts: Omit<ExpertCalibrationTexts, 'donor'>): void {
  useCompose.setState((s) => {
    const next = alignedCalibrationTexts(s.form.experts, s.calibrationTexts);
    if (index < next.length) next[index] = { ...texts, donor: s.form.experts[index].model };
    return { calibrationTexts: next };
  });
}

export function composeCalibrationPaste(index: number, pasted: string): void {
  setExpertTexts(index, { origin: 'pasted', pasted, texts: splitParagraphs(pasted) });
}

export async function composeCalibrationFile(index: number, file: File): Promise<void> {
  try {
    const texts = calibrationFileTexts(file.name, await file.text());
    setExpertTexts(index, { origin: 'file', pasted: '', texts, from: file.name });
  } catch (e) {
    useCompose.setState({ calibration: { status: 'failed', error: `${(e as Error).name}: ${(e as Error).message}` } });
  }
}

export function composeCalibrationUsePrompts(index: number): void {
  const expert = useCompose.getState().form.experts[index];
  if (expert) setExpertTexts(index, { origin: 'prompts', pasted: '', texts: promptTexts(expert) });
}

/** Every expert whose donor is a zoo model zoo/<domain> gets that domain's built-in texts. */
export async function composeCalibrationUseZoo(): Promise<void> {
  const zoo = useLibrary.getState().zoo;
  const experts = useCompose.getState().form.experts;
  try {
    for (const [i, e] of experts.entries()) {
      const domain = zooDomainOf(e.model, zoo);
      if (!domain) continue;
      const texts = await fetchZooCalibrationTexts(domain);
      setExpertTexts(i, { origin: 'zoo', pasted: '', texts, from: `zoo/calibration/${domain}.jsonl` });
    }
  } catch (e) {
    useCompose.setState({ calibration: { status: 'failed', error: `${(e as Error).name}: ${(e as Error).message}` } });
  }
}

export async function composeCalibrate(): Promise<void> {
  const { yaml, form, calibrationTexts } = useCompose.getState();
  const request: MergeCalibrationRequest = {
    texts: calibrationRequestTexts(alignedCalibrationTexts(form.experts, calibrationTexts)),
  };
  useCompose.setState({ calibration: { status: 'running' } });
  const onProgress = engineCallback((progress: MergeCalibrationProgress) =>
    useCompose.setState((s) => ({ calibration: { status: 'running', ...s.calibration, progress } })),
  );
  const deadline = mergeTokenizerDeadline(TOKENIZER_WORK, BUILD_HINT);
  try {
    const summary = await Promise.race([
      mergeClient().calibrate(yaml, composeSources(), request, onProgress, engineCallback(deadline.onCall)),
      deadline.missed,
    ]);
    deadline.met();
    useCompose.setState({
      calibration: undefined,
      calibrated: { yaml, request, summary, labels: form.experts.map((e) => e.model) },
    });
  } catch (e) {
    deadline.met();
    const err = e as Error;
    useCompose.setState({
      calibration: {
        status: err.name === 'CancelledError' ? 'cancelled' : 'failed',
        error: `${err.name}: ${err.message}`,
      },
    });
  }
}

export function composeCalibrateCancel(): void {
  if (useCompose.getState().calibration?.status === 'running') void mergeClient().cancel();
}
