import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useEngine } from '../../state/engine.ts';
import {
  exportGgufFile,
  exportHfFolder,
  exportTrace,
  exportYaml,
  manifestYaml,
  useExport,
} from '../../state/export.ts';
import { useLibrary } from '../../state/library.ts';
import { routingFromConversation, useRouting } from '../../state/routing.ts';
import { formatBytes } from '../format.ts';

export function ExportPage() {
  const stored = useLibrary((s) => s.stored);
  const { loadedId, loadedTitle } = useEngine(
    useShallow((s) => ({ loadedId: s.model?.id, loadedTitle: s.model?.title })),
  );
  const { busy, message } = useExport(useShallow((s) => ({ busy: s.busy, message: s.message })));
  const traces = useRouting((s) => s.slots);
  const [selected, setSelected] = useState<string>('');
  const id = selected || loadedId || stored[0]?.id || '';
  const manifest = stored.find((m) => m.id === id);
  const trace = traces[0].result;
  return (
    <div className="page" data-testid="page-export">
      <section className="card" aria-labelledby="export-model-h">
        <h2 id="export-model-h">Model</h2>
        <label>
          Export{' '}
          <select value={id} onChange={(e) => setSelected(e.target.value)}>
            {stored.map((m) => (
              <option key={m.id} value={m.id}>
                {m.title} ({formatBytes(m.totalBytes)})
              </option>
            ))}
          </select>
        </label>
        {!manifest && <p className="muted">Build or add a model first; exports read from the library.</p>}
        {manifest && (
          <div className="row wrap">
            <button
              type="button"
              disabled={!!busy || !manifestYaml(manifest)}
              onClick={() => void exportYaml(manifest)}
            >
              mergekit YAML
            </button>
            <button type="button" disabled={!!busy} onClick={() => void exportHfFolder(manifest)}>
              HF folder (config, safetensors, tokenizer, README)
            </button>
          </div>
        )}
      </section>
      <section className="card" aria-labelledby="export-gguf-h">
        <h2 id="export-gguf-h">GGUF (llama.cpp)</h2>
        <p className="muted">Exports the model loaded in Chat{loadedTitle ? `: ${loadedTitle}` : ' (none loaded)'}.</p>
        <div className="row wrap">
          {(['f16', 'q8_0', 'q4_0'] as const).map((q) => (
            <button
              key={q}
              type="button"
              disabled={!!busy || !loadedId}
              onClick={() => void exportGgufFile({ title: loadedTitle ?? 'model' }, q)}
            >
              GGUF {q}
            </button>
          ))}
        </div>
      </section>
      <section className="card" aria-labelledby="export-trace-h">
        <h2 id="export-trace-h">Routing trace</h2>
        <p className="muted">
          {trace
            ? `Trace A: ${trace.pieces.length} tokens.`
            : 'No trace yet: route a text on the Routing page, or take the last answer.'}
        </p>
        <div className="row wrap">
          <button type="button" onClick={() => routingFromConversation(0)}>
            Take the last answer
          </button>
          <button type="button" disabled={!trace || !!busy} onClick={() => trace && void exportTrace(trace, 'json')}>
            Trace JSON
          </button>
          <button type="button" disabled={!trace || !!busy} onClick={() => trace && void exportTrace(trace, 'csv')}>
            Trace CSV
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
