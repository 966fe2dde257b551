import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { GATE_MODES, OUTPUT_DTYPES } from '../../core/formats/mergekit-yaml.ts';
import {
  composeBuild,
  composeCancel,
  composeCheck,
  composeFromZoo,
  composeLoadExample,
  composePreview,
  composeSet,
  composeSetForm,
  composeSetYaml,
  emptyExpert,
  useCompose,
} from '../../state/compose.ts';
import { composeBuildExport } from '../../state/compose-export.ts';
import type { ComposeForm, ExpertForm } from '../../state/compose-yaml.ts';
import { useLibrary } from '../../state/library.ts';
import { libraryRefs, type LibraryRef } from '../../state/library-refs.ts';
import { ModelSelect, PromptList } from '../components/ComposeFields.tsx';
import { CalibratePane } from '../components/CalibratePane.tsx';
import { Heatmap } from '../components/Heatmap.tsx';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { Eye, FileArchive, Hammer, Plus, Trash2, X } from 'lucide-react';
import { formatBytes } from '../format.ts';

/** mergekit-moe's output architecture names (specs/mergekit-moe.md §2.1). */
const ARCHITECTURES = ['Mixtral', 'DeepSeek MoE', 'Qwen MoE', 'Qwen3 MoE'];

function ExpertEditor({
  index,
  expert,
  refs,
  form,
}: {
  index: number;
  expert: ExpertForm;
  refs: LibraryRef[];
  form: ComposeForm;
}) {
  const update = (patch: Partial<ExpertForm>) =>
    composeSetForm({ ...form, experts: form.experts.map((e, i) => (i === index ? { ...e, ...patch } : e)) });
  const issues = useCompose((s) => s.issues).filter(
    (i) => i.field === `experts.${index}` || i.field.startsWith(`experts.${index}.`),
  );
  return (
    <fieldset className="expert-card" data-testid={`expert-${index}`} aria-invalid={issues.length > 0 || undefined}>
      <legend>Expert {index}</legend>
      {issues.length > 0 && (
        <ul className="issues" role="alert">
          {issues.map((i, k) => (
            <li key={k}>{i.message}</li>
          ))}
        </ul>
      )}
      <ModelSelect label="Donor model" value={expert.model} refs={refs} onChange={(model) => update({ model })} />
      <PromptList
        label={`Expert ${index} positive prompt`}
        prompts={expert.positive}
        onChange={(positive) => update({ positive })}
      />
      <PromptList
        label={`Expert ${index} negative prompt`}
        prompts={expert.negative}
        onChange={(negative) => update({ negative })}
      />
      <div className="row wrap">
        <label>
          Noise scale{' '}
          <input
            type="number"
            step="0.001"
            value={expert.noiseScale}
            onChange={(e) => update({ noiseScale: e.target.value })}
          />
        </label>
        <label>
          Residual scale{' '}
          <input
            type="number"
            step="0.01"
            value={expert.residualScale}
            onChange={(e) => update({ residualScale: e.target.value })}
          />
        </label>
        <button
          type="button"
          className="secondary"
          aria-label={`Remove expert ${index}${expert.model ? ` (${expert.model})` : ''}`}
          onClick={() => composeSetForm({ ...form, experts: form.experts.filter((_, i) => i !== index) })}
        >
          <Trash2 className="icon" aria-hidden="true" /> Remove expert {index}
        </button>
      </div>
    </fieldset>
  );
}

function FormPane({ refs }: { refs: LibraryRef[] }) {
  const { form, layout, title } = useCompose(useShallow((s) => ({ form: s.form, layout: s.layout, title: s.title })));
  // The default stays outside the selector: a selector that returns a fresh `[]` while the zoo is
  // still loading never gives useSyncExternalStore a stable snapshot (React #185, a blank page).
  const examples = useLibrary((s) => s.zoo?.mergeConfigs) ?? [];
  const set = (patch: Partial<ComposeForm>) => composeSetForm({ ...form, ...patch });
  return (
    <section className="card" aria-labelledby="compose-form-h">
      <h2 id="compose-form-h">Model</h2>
      <div className="row wrap">
        <button type="button" onClick={composeFromZoo}>
          Start from the demo zoo
        </button>
        {examples.length > 0 && (
          <label>
            Example{' '}
            <select
              value=""
              onChange={(e) => {
                if (e.target.value) void composeLoadExample(e.target.value);
              }}
            >
              <option value="">load a zoo example…</option>
              {examples.map((x) => (
                <option key={x.path} value={x.path}>
                  {x.name} ({x.path})
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Name <input value={title} onChange={(e) => composeSet({ title: e.target.value })} />
        </label>
      </div>
      <ModelSelect label="Base model" value={form.base} refs={refs} onChange={(base) => set({ base })} />
      {form.experts.map((e, i) => (
        <ExpertEditor key={i} index={i} expert={e} refs={refs} form={form} />
      ))}
      <button type="button" className="secondary" onClick={() => set({ experts: [...form.experts, emptyExpert()] })}>
        <Plus className="icon" aria-hidden="true" /> Add expert
      </button>
      <fieldset className="row wrap">
        <legend>Output</legend>
        <label>
          Gate mode{' '}
          <select value={form.gateMode} onChange={(e) => set({ gateMode: e.target.value as ComposeForm['gateMode'] })}>
            {GATE_MODES.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label>
          Experts per token{' '}
          <input
            type="number"
            min={1}
            max={Math.max(1, form.experts.length)}
            value={form.expertsPerToken}
            onChange={(e) => set({ expertsPerToken: Number(e.target.value) })}
          />
        </label>
        <label>
          Architecture{' '}
          <select value={form.architecture} onChange={(e) => set({ architecture: e.target.value })}>
            <option value="">automatic</option>
            {form.architecture && !ARCHITECTURES.includes(form.architecture) && (
              <option value={form.architecture}>{form.architecture} (as written: a prefix of mergekit's names)</option>
            )}
            {ARCHITECTURES.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          dtype{' '}
          <select value={form.dtype} onChange={(e) => set({ dtype: e.target.value as ComposeForm['dtype'] })}>
            <option value="">the base's</option>
            {OUTPUT_DTYPES.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </label>
        <label>
          Layout{' '}
          <select value={layout} onChange={(e) => composeSet({ layout: e.target.value as 'classic' | 'fused' })}>
            <option value="classic">per-expert tensors (mergekit v0.1.4)</option>
            <option value="fused">fused (transformers v5)</option>
          </select>
        </label>
      </fieldset>
    </section>
  );
}

function YamlPane() {
  const { yaml, issues, check, checking, draftNote } = useCompose(
    useShallow((s) => ({
      yaml: s.yaml,
      issues: s.issues,
      check: s.check,
      checking: s.checking,
      draftNote: s.draftNote,
    })),
  );
  return (
    <section className="card" aria-labelledby="compose-yaml-h">
      <h2 id="compose-yaml-h">mergekit-moe YAML</h2>
      {draftNote && (
        <p role="status" className="note-warning" data-testid="compose-draft-note">
          {draftNote}
        </p>
      )}
      <textarea
        className="yaml-editor"
        aria-label="mergekit YAML"
        spellCheck={false}
        value={yaml}
        onChange={(e) => composeSetYaml(e.target.value)}
        data-testid="yaml-editor"
      />
      <div aria-live="polite" data-testid="compose-check">
        {checking && <p className="muted">Checking compatibility…</p>}
        {issues.length > 0 && (
          <ul className="issues" role="alert">
            {issues.map((i, k) => (
              <li key={k}>
                {i.line ? `line ${i.line}: ` : ''}
                {i.field ? `${i.field}: ` : ''}
                {i.message}
              </li>
            ))}
          </ul>
        )}
        {check?.ok && (
          <p data-testid="compose-ok">
            {check.exportOnly ? 'Valid for mergekit, which would write' : 'Compatible: builds'} a {check.arch} model,{' '}
            {formatBytes(check.totalBytes)} of weights.
            {check.warnings.length ? ` Warnings: ${check.warnings.join('; ')}` : ''}
          </p>
        )}
        {check?.ok && check.exportOnly && (
          <p className="note-warning" data-testid="compose-export-only">
            Not buildable here: {check.exportOnly}.
          </p>
        )}
      </div>
    </section>
  );
}

function PreviewPane() {
  const { preview, previewError, previewBusy, form } = useCompose(
    useShallow((s) => ({ preview: s.preview, previewError: s.previewError, previewBusy: s.previewBusy, form: s.form })),
  );
  const [text, setText] = useState('Once upon a time, def main(): return 12 + 7');
  return (
    <section className="card" aria-labelledby="compose-preview-h">
      <h2 id="compose-preview-h">Routing preview</h2>
      <p className="muted small">
        The gates are recomputed from the base model (experts are not loaded); each token is routed at every layer from
        that layer's input state.
      </p>
      <form
        className="row wrap"
        onSubmit={(e) => {
          e.preventDefault();
          void composePreview(text);
        }}
      >
        <label className="grow">
          Test text <input value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit" disabled={previewBusy || !form.base}>
          <Eye className="icon" aria-hidden="true" /> {previewBusy ? 'Computing gates…' : 'Preview routing'}
        </button>
      </form>
      {previewError && <p role="alert">{previewError}</p>}
      {preview && (
        <Heatmap
          pieces={preview.pieces}
          trace={preview.routing}
          layers={preview.routing[0]?.layers.length ?? 0}
          label="Preview"
          expertNames={form.experts.map((e) => e.model)}
        />
      )}
      {preview && (
        <p className="muted small" data-testid="preview-tokens">
          {preview.pieces.length} tokens; first-layer choices:{' '}
          {preview.routing.map((r) => r.layers[0]?.expertIds[0]).join(' ')}
        </p>
      )}
    </section>
  );
}

function BuildStatus() {
  const build = useCompose((s) => s.build);
  const p = build?.progress;
  const exporting = build?.target === 'export';
  return (
    <>
      {build?.status === 'running' && p && (
        <ProgressBar
          label={`${exporting ? 'Merging into the zip' : 'Merging into the library'}: ${p.phase}${p.tensor ? ` ${p.tensor}` : ''}`}
          done={p.bytesDone}
          total={p.bytesTotal}
        />
      )}
      <div role="status" data-testid="build-status">
        {build?.status === 'done'
          ? exporting
            ? `Saved ${build.saved}: the HF folder for mergekit and transformers; not added to the library.`
            : build.cancelling
              ? 'Cancel came after the build had finished: it is saved to the library; opening it in Chat.'
              : 'Built and saved to the library; opening it in Chat.'
          : build?.status === 'cancelled'
            ? exporting
              ? 'Cancelled; no zip was saved.'
              : 'Cancelled; nothing was stored in the library.'
            : build?.status === 'running' && build.cancelling
              ? 'Cancelling…'
              : ''}
      </div>
      {build?.error && build.status === 'failed' && <p role="alert">{build.error}</p>}
    </>
  );
}

function BuildPane() {
  const { build, check } = useCompose(useShallow((s) => ({ build: s.build, check: s.check })));
  const exportOnly = check?.ok && !!check.exportOnly;
  const running = build?.status === 'running';
  return (
    <section className="card" aria-labelledby="compose-build-h">
      <h2 id="compose-build-h">Build</h2>
      {exportOnly && (
        <p className="muted small" data-testid="compose-export-note">
          This studio cannot open a {check.arch} model, so it is built for export only: the HF folder (config,
          safetensors, tokenizer, the YAML and a model card) is written as one .zip to a file you choose, streamed as it
          is merged, and is not added to the library.
        </p>
      )}
      <div className="row wrap">
        {exportOnly ? (
          <button type="button" className="primary" onClick={() => void composeBuildExport()} disabled={running}>
            <FileArchive className="icon" aria-hidden="true" /> Build for export only (.zip)
          </button>
        ) : null}
        <button
          type="button"
          className={exportOnly ? 'secondary' : 'primary'}
          onClick={() => void composeBuild()}
          disabled={!check?.ok || exportOnly || running}
        >
          <Hammer className="icon" aria-hidden="true" /> Build MoE
        </button>
        <button
          type="button"
          aria-label="Cancel the build"
          onClick={composeCancel}
          disabled={!running || build?.cancelling}
          className="secondary"
        >
          <X className="icon" aria-hidden="true" /> Cancel
        </button>
      </div>
      <BuildStatus />
    </section>
  );
}

export function ComposePage() {
  const { zoo, stored } = useLibrary(useShallow((s) => ({ zoo: s.zoo, stored: s.stored })));
  const refs = libraryRefs(zoo, stored);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the check reads the library; re-run it when that changes
  useEffect(() => {
    void composeCheck();
  }, [zoo, stored]);
  return (
    <div className="page compose-page" data-testid="page-compose">
      <FormPane refs={refs} />
      <div className="page">
        <YamlPane />
        <PreviewPane />
        <CalibratePane />
        <BuildPane />
      </div>
    </div>
  );
}
