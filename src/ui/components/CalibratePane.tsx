import { useShallow } from 'zustand/react/shallow';
import {
  composeCalibrate,
  composeCalibrateCancel,
  composeCalibrationFile,
  composeCalibrationPaste,
  composeCalibrationUsePrompts,
  composeCalibrationUseZoo,
  useCompose,
} from '../../state/compose.ts';
import { alignedCalibrationTexts, zooDomainOf, type ExpertCalibrationTexts } from '../../state/compose-calibration.ts';
import { useLibrary } from '../../state/library.ts';
import type { MergeCalibrationProgress, MergeCalibrationSummary } from '../../../workers/merge/api.ts';
import { expertColor } from '../format.ts';

const PHASE_WORDS: Record<MergeCalibrationProgress['phase'], string> = {
  merge: 'Merging in memory',
  evaluate: 'Scoring routing',
  targets: 'Finding token targets',
  forward: 'Running texts',
  fit: 'Fitting router',
  train: 'Training routers',
  done: 'Finishing',
};

/** "Fitting router, layer 2 of 4 · 120 of 240" for a <progress>. */
export function calibrationProgressText(p: MergeCalibrationProgress, layers?: number): string {
  const layer = p.layer !== undefined ? `, layer ${p.layer + 1}${layers ? ` of ${layers}` : ''}` : '';
  const count = p.phase === 'merge' ? '' : ` · ${p.done} of ${p.total}`;
  return `${PHASE_WORDS[p.phase]}${layer}${count}`;
}

function originWords(t: ExpertCalibrationTexts): string {
  const n = `${t.texts.length} text${t.texts.length === 1 ? '' : 's'}`;
  switch (t.origin) {
    case 'none':
      return 'no texts yet';
    case 'pasted':
      return `${n} pasted (one per paragraph)`;
    case 'file':
      return `${n} from ${t.from}`;
    case 'zoo':
      return `${n}, built-in (${t.from})`;
    case 'prompts':
      return `${n} from the positive prompts`;
  }
}

function ExpertTexts({ index, donor, texts }: { index: number; donor: string; texts: ExpertCalibrationTexts }) {
  const name = donor || `expert ${index}`;
  return (
    <fieldset className="expert-card calibration-texts" data-testid={`calibration-expert-${index}`}>
      <legend>
        <span className="swatch" style={{ background: expertColor(index) }} aria-hidden="true" /> {name}
      </legend>
      <label>
        Calibration texts for {name}
        <textarea
          rows={2}
          value={texts.origin === 'pasted' ? texts.pasted : ''}
          placeholder={
            texts.origin === 'pasted' || texts.origin === 'none' ? 'Paste texts, a blank line between two' : ''
          }
          onChange={(e) => composeCalibrationPaste(index, e.target.value)}
        />
      </label>
      <div className="row wrap">
        <label className="file-pick">
          Texts file for {name} (.txt or .jsonl)
          <input
            type="file"
            accept=".txt,.jsonl,text/plain"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void composeCalibrationFile(index, file);
            }}
          />
        </label>
        <button type="button" onClick={() => composeCalibrationUsePrompts(index)}>
          Use positive prompts of {name}
        </button>
      </div>
      <p className="muted small" data-testid={`calibration-count-${index}`}>
        {originWords(texts)}
      </p>
    </fieldset>
  );
}

const share = (v: number | null) => (v === null ? '–' : `${Math.round(v * 100)}%`);
const ppl = (v: number | null) => (v === null ? '–' : v.toFixed(1));

/** Own-domain top-1 share per layer and expert, and perplexity per expert's texts, before → after. */
export function CalibrationTable({ summary, labels }: { summary: MergeCalibrationSummary; labels: string[] }) {
  const layers = summary.before.ownShare[0]?.length ?? 0;
  const name = (e: number) => labels[e] || `expert ${e}`;
  return (
    <div className="table-scroll">
      <p className="muted small" id="calibration-table-what">
        Own-domain share per layer: of an expert's text tokens, the share whose first choice is that expert; then
        perplexity on its texts (merged gates → calibrated router).
      </p>
      <table
        className="calibration-table"
        data-testid="calibration-table"
        aria-label="Routing before and after calibration"
        aria-describedby="calibration-table-what"
      >
        <thead>
          <tr>
            <th scope="col">Layer</th>
            {summary.before.ownShare.map((_, e) => (
              <th scope="col" key={e}>
                <span className="swatch" style={{ background: expertColor(e) }} aria-hidden="true" />{' '}
                {name(e)
                  .split('/')
                  .flatMap((part, i) => (i === 0 ? [part] : [<wbr key={i} />, `/${part}`]))}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: layers }, (_, l) => (
            <tr key={l}>
              <th scope="row">L{l}</th>
              {summary.before.ownShare.map((byLayer, e) => (
                <td key={e} data-testid={`own-share-${l}-${e}`}>
                  {share(byLayer[l])}{' '}
                  <span className="after">
                    → <strong>{share(summary.after.ownShare[e][l])}</strong>
                  </span>
                </td>
              ))}
            </tr>
          ))}
          <tr>
            <th scope="row">Perplexity</th>
            {summary.before.perplexity.map((v, e) => (
              <td key={e} data-testid={`perplexity-${e}`}>
                {ppl(v)}{' '}
                <span className="after">
                  → <strong>{ppl(summary.after.perplexity[e])}</strong>
                </span>
              </td>
            ))}
          </tr>
        </tbody>
      </table>
    </div>
  );
}

export function CalibratePane() {
  const { form, yaml, texts, calibration, calibrated, checkOk } = useCompose(
    useShallow((s) => ({
      form: s.form,
      yaml: s.yaml,
      texts: s.calibrationTexts,
      calibration: s.calibration,
      calibrated: s.calibrated,
      checkOk: s.check?.ok === true,
    })),
  );
  const zoo = useLibrary((s) => s.zoo);
  const perExpert = alignedCalibrationTexts(form.experts, texts);
  const anyZoo = form.experts.some((e) => zooDomainOf(e.model, zoo));
  const ready = perExpert.length > 0 && perExpert.every((t) => t.texts.length > 0);
  const running = calibration?.status === 'running';
  const p = calibration?.progress;
  const total = perExpert.reduce((n, t) => n + t.texts.length, 0);
  return (
    <section className="card" aria-labelledby="compose-calibrate-h">
      <h2 id="compose-calibrate-h">Calibrate router</h2>
      <p className="muted small">
        Fits every layer's router to example texts of each expert, on the merged model's own forward pass. Optional:
        without it, Build writes the gates of gate_mode {form.gateMode}.
      </p>
      {anyZoo && (
        <button type="button" onClick={() => void composeCalibrationUseZoo()} disabled={running}>
          Use built-in zoo texts
        </button>
      )}
      {form.experts.map((e, i) => (
        <ExpertTexts key={i} index={i} donor={e.model} texts={perExpert[i]} />
      ))}
      <div className="row wrap">
        <button type="button" onClick={() => void composeCalibrate()} disabled={!ready || !checkOk || running}>
          Calibrate router
        </button>
        <button type="button" onClick={composeCalibrateCancel} disabled={!running}>
          Cancel calibration
        </button>
        <span className="muted small">
          {total} text{total === 1 ? '' : 's'}
          {!ready && perExpert.length > 0 ? ' · every expert needs at least one text' : ''}
        </span>
      </div>
      {running && (
        <div className="progress" data-testid="calibration-progress">
          <label>
            {p ? calibrationProgressText(p, calibrated?.summary.before.ownShare[0]?.length) : 'Starting…'}
            <progress max={p?.total || 1} value={p ? p.done : 0} />
          </label>
        </div>
      )}
      <div role="status" data-testid="calibration-status">
        {calibration?.status === 'cancelled'
          ? `Calibration cancelled${calibrated ? '; the previous result is kept' : ''}.`
          : ''}
      </div>
      {calibration?.status === 'failed' && <p role="alert">{calibration.error}</p>}
      {calibrated && (
        <div data-testid="calibration-result">
          <p>
            Router calibrated ({calibrated.summary.method}, {calibrated.summary.texts} texts,{' '}
            {calibrated.summary.tokens.toLocaleString('en')} tokens in{' '}
            {calibrated.summary.windowing === 'packed' ? 'packed ' : ''}windows of {calibrated.summary.windowTokens}) in{' '}
            {calibrated.summary.seconds.toFixed(1)} s; scored on up to {calibrated.summary.scoredTextsPerExpert} texts
            per expert.{' '}
            {calibrated.yaml === yaml
              ? 'Build uses it.'
              : 'The composition changed since: Build writes the gate_mode gates unless you calibrate again.'}
          </p>
          <CalibrationTable summary={calibrated.summary} labels={calibrated.labels} />
        </div>
      )}
    </section>
  );
}
