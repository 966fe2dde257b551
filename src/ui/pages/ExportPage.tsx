import { useMemo, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useEngine } from '../../state/engine.ts';
import {
  canSaveFolder,
  exportRefGguf,
  exportRefHfFolder,
  exportTrace,
  exportYaml,
  manifestYaml,
  useExport,
} from '../../state/export.ts';
import { libraryRefs } from '../../state/library-refs.ts';
import { useLibrary } from '../../state/library.ts';
import { routingFromConversation, useRouting } from '../../state/routing.ts';
import { Download, FileText, FolderDown, MessageSquare } from 'lucide-react';
import { useExpertLabels } from '../components/expert-labels.ts';
import { formatBytes } from '../format.ts';

export function ExportPage() {
  const { stored, zoo } = useLibrary(useShallow((s) => ({ stored: s.stored, zoo: s.zoo })));
  const refs = useMemo(() => libraryRefs(zoo, stored), [zoo, stored]);
  const { loadedId, loadedTitle } = useEngine(
    useShallow((s) => ({ loadedId: s.model?.id, loadedTitle: s.model?.title })),
  );
  const { busy, message } = useExport(useShallow((s) => ({ busy: s.busy, message: s.message })));
  const traces = useRouting((s) => s.slots);
  const [selected, setSelected] = useState<string>('');
  const entry =
    refs.find((r) => r.ref.id === selected) ?? refs.find((r) => r.ref.id === loadedId) ?? refs.at(-1) ?? undefined;
  const manifest = entry?.ref.kind === 'store' ? stored.find((m) => m.id === entry.ref.id) : undefined;
  const yaml = manifest ? manifestYaml(manifest) : undefined;
  const trace = traces[0].result;
  const labels = useExpertLabels();
  const donors = useMemo(() => labels.map((l) => l.donor), [labels]);
  return (
    <div className="page" data-testid="page-export">
      <section className="card" aria-labelledby="export-model-h">
        <h2 id="export-model-h">Model</h2>
        <label>
          Model to export{' '}
          <select value={entry?.ref.id ?? ''} onChange={(e) => setSelected(e.target.value)}>
            {refs.map((r) => (
              <option key={r.ref.id} value={r.ref.id}>
                {r.name}: {r.title}
                {r.ref.kind === 'store' ? ` (${formatBytes(stored.find((m) => m.id === r.ref.id)?.totalBytes)})` : ''}
              </option>
            ))}
          </select>
        </label>
        {!entry && <p className="muted">Build or add a model first.</p>}
        {entry && (
          <>
            <h3>mergekit and Hugging Face</h3>
            <div className="row wrap">
              <button type="button" disabled={!!busy || !yaml} onClick={() => manifest && void exportYaml(manifest)}>
                <FileText className="icon" aria-hidden="true" /> mergekit YAML of {entry.title}
              </button>
              <button type="button" disabled={!!busy} onClick={() => void exportRefHfFolder(entry, stored)}>
                <Download className="icon" aria-hidden="true" /> HF folder of {entry.title} (.zip: config, safetensors,
                tokenizer, README)
              </button>
              {canSaveFolder() && (
                <button type="button" disabled={!!busy} onClick={() => void exportRefHfFolder(entry, stored, true)}>
                  <FolderDown className="icon" aria-hidden="true" /> HF folder of {entry.title} into a folder you pick
                </button>
              )}
            </div>
            {!yaml && <p className="muted small">Only a model built in Compose has a mergekit YAML.</p>}
            <h3 id="export-gguf-h">GGUF (llama.cpp)</h3>
            <p className="muted small">
              {entry.ref.id === loadedId
                ? `${loadedTitle} is loaded in Chat: it is converted from there.`
                : `${entry.title} is loaded in Chat first (the engine converts the model it holds).`}
            </p>
            <div className="row wrap">
              {(['f16', 'q8_0', 'q4_0'] as const).map((q) => (
                <button key={q} type="button" disabled={!!busy} onClick={() => void exportRefGguf(entry, q)}>
                  <Download className="icon" aria-hidden="true" /> GGUF {q} of {entry.title}
                </button>
              ))}
            </div>
          </>
        )}
      </section>
      <section className="card" aria-labelledby="export-trace-h">
        <h2 id="export-trace-h">Routing trace</h2>
        <p className="muted">
          {trace
            ? `Trace A: ${trace.pieces.length} tokens.`
            : 'No trace yet: route a text on the Routing page, or take the last answer.'}
        </p>
        <div className="row wrap">
          <button
            type="button"
            className="secondary"
            aria-label="Take the last answer as trace A"
            onClick={() => routingFromConversation(0)}
          >
            <MessageSquare className="icon" aria-hidden="true" /> Take the last answer
          </button>
          <button
            type="button"
            disabled={!trace || !!busy}
            onClick={() => trace && void exportTrace(trace, 'json', donors)}
            aria-label={`Trace JSON of trace A${trace ? ` (${trace.pieces.length} tokens)` : ''}`}
          >
            <Download className="icon" aria-hidden="true" /> Trace JSON
          </button>
          <button
            type="button"
            disabled={!trace || !!busy}
            onClick={() => trace && void exportTrace(trace, 'csv', donors)}
            aria-label={`Trace CSV of trace A${trace ? ` (${trace.pieces.length} tokens)` : ''}`}
          >
            <Download className="icon" aria-hidden="true" /> Trace CSV
          </button>
        </div>
      </section>
      {busy && <p role="status">Exporting {busy}…</p>}
      {message && (
        <p role={message.kind === 'error' ? 'alert' : 'status'} data-testid="export-message">
          {message.text}
        </p>
      )}
    </div>
  );
}
