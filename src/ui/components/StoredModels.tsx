/**
 * The Library's stored models: what each is (checked at import), and its actions with their
 * object — Chat, Edit in Compose, Re-verify, Delete (after an alert dialog that names it) —
 * and the incomplete downloads/imports with Resume or Discard.
 */
import { MessageSquare, Pencil, ShieldCheck, Trash2 } from 'lucide-react';
import { useShallow } from 'zustand/react/shallow';
import type { MergeCalibrationSummary } from '../../../workers/merge/api.ts';
import type { ModelManifest } from '../../core/store/manifest.ts';
import { engineLoad } from '../../state/engine.ts';
import { libraryDelete, libraryVerify, pendingResume, useLibrary } from '../../state/library.ts';
import { uiGo } from '../../state/ui.ts';
import { formatBytes, plural } from '../format.ts';
import { ModelFits, shapeFacts } from './ModelFits.tsx';
import { ConfirmButton } from './ConfirmDialog.tsx';
import { ProgressBar } from './ProgressBar.tsx';

export async function openStoredInChat(m: ModelManifest): Promise<void> {
  uiGo('chat');
  await engineLoad({ kind: 'store', id: m.id });
}

/** Architecture, parameters, experts, dtype, context: from the summary checked at import. */
function ModelFacts({ manifest }: { manifest: ModelManifest }) {
  const s = manifest.summary;
  if (!s)
    return <div className="muted small">Stored before imports were checked: Re-verify to check and describe it.</div>;
  const facts = [
    ...shapeFacts(s.arch, s.params, s.experts, s.expertsPerToken),
    s.dtype,
    `context ${s.contextLength.toLocaleString('en-US')}`,
    s.tokenizer === 'none' ? 'no tokenizer' : undefined,
  ].filter(Boolean);
  return (
    <div className="muted small" data-testid="model-facts">
      {facts.join(' · ')}
    </div>
  );
}

/** "router calibrated (output-match, 240 texts)" for a merge whose routers Compose calibrated. */
function CalibratedTag({ notes }: { notes?: Record<string, unknown> }) {
  const c = notes?.calibration as MergeCalibrationSummary | undefined;
  if (!c) return null;
  return (
    <>
      {' '}
      <span className="tag" data-testid="calibrated-tag" title={`calibration data sha256 ${c.dataSha256}`}>
        router calibrated ({c.method}, {c.texts} texts)
      </span>
    </>
  );
}

export function StoredSection() {
  const { stored, pending, verify, transfers } = useLibrary(
    useShallow((s) => ({ stored: s.stored, pending: s.pending, verify: s.verify, transfers: s.transfers })),
  );
  return (
    <section aria-labelledby="stored-h" className="card">
      <h2 id="stored-h">
        Your models <small>(IndexedDB)</small>
      </h2>
      {stored.length === 0 && (
        <p className="muted">Nothing stored yet: download from a hub, add a folder, or build a MoE in Compose.</p>
      )}
      <ul className="model-list" data-testid="stored-list">
        {stored.map((m) => (
          <li key={m.id} data-testid="stored-model">
            <div>
              <strong>{m.title}</strong> <span className="tag">{m.source.kind}</span>{' '}
              <span className="muted">
                {formatBytes(m.totalBytes)} · {plural(m.files.length, 'file')}
              </span>
              <CalibratedTag notes={m.notes} />
            </div>
            <ModelFacts manifest={m} />
            {m.summary && <ModelFits params={m.summary.params} dtype={m.summary.dtype} />}
            <div className="row">
              <button type="button" aria-label={`Chat with ${m.title}`} onClick={() => void openStoredInChat(m)}>
                <MessageSquare className="icon" aria-hidden="true" /> Chat
              </button>
              {m.source.kind === 'merge' && (
                <button
                  type="button"
                  aria-label={`Edit in Compose: ${m.title}`}
                  onClick={async () => {
                    // Compose's state (and its YAML parser) loads here, not with the Library
                    const { composeSet, composeSetYaml } = await import('../../state/compose.ts');
                    composeSetYaml((m.source as { yaml: string }).yaml);
                    composeSet({ title: `${m.title} (edit)` });
                    uiGo('compose');
                  }}
                  className="secondary"
                >
                  <Pencil className="icon" aria-hidden="true" /> Edit in Compose
                </button>
              )}
              <button
                type="button"
                className="secondary"
                aria-label={`Re-verify ${m.title}`}
                onClick={() => void libraryVerify(m.id)}
              >
                <ShieldCheck className="icon" aria-hidden="true" /> Re-verify
              </button>
              <ConfirmButton
                label={`Delete ${m.title}`}
                title={`Delete ${m.title}?`}
                body={
                  <p>
                    Its {plural(m.files.length, 'file')} ({formatBytes(m.totalBytes)}) are removed from this browser's
                    storage. This cannot be undone.
                  </p>
                }
                confirm={`Delete ${m.title}`}
                onConfirm={() => void libraryDelete(m.id)}
                testId="confirm-delete"
              >
                <Trash2 className="icon" aria-hidden="true" /> Delete
              </ConfirmButton>
            </div>
            {verify[m.id] && (
              <div role="status" className="muted">
                {verify[m.id]}
              </div>
            )}
          </li>
        ))}
      </ul>
      {pending.some((p) => !transfers[p.id]) && <h3>Incomplete (not ready)</h3>}
      <ul className="model-list" data-testid="pending-list">
        {pending
          .filter((p) => !transfers[p.id])
          .map((p) => {
            const done = p.files.reduce(
              (s, f) => s + (f.complete ? f.size : Math.min(f.size, f.chunksDone * p.chunkBytes)),
              0,
            );
            const total = p.files.reduce((s, f) => s + f.size, 0);
            return (
              <li key={p.id} data-testid="pending-model">
                <ProgressBar label={`${p.title} (incomplete)`} done={done} total={total} />
                <div className="row">
                  {p.source.kind === 'hub' && (
                    <button
                      type="button"
                      aria-label={`Resume download of ${p.title}`}
                      onClick={() => void pendingResume(p)}
                    >
                      Resume download
                    </button>
                  )}
                  <button type="button" aria-label={`Discard ${p.title}`} onClick={() => void libraryDelete(p.id)}>
                    Discard
                  </button>
                </div>
              </li>
            );
          })}
      </ul>
    </section>
  );
}
