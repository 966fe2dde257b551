import { FileUp } from 'lucide-react';
import { useShallow } from 'zustand/react/shallow';
import type { RoutingOverrides } from '../../core/runtime/types.ts';
import { zooDomainOf } from '../../state/compose-calibration.ts';
import { useLibrary } from '../../state/library.ts';
import {
  routingDomainsCancel,
  routingDomainsFile,
  routingDomainsZoo,
  useRoutingDomains,
} from '../../state/routing-domains.ts';
import { expertColor, expertLabel, percent } from '../format.ts';
import type { ExpertLabel } from './expert-labels.ts';
import { ProgressBar } from './ProgressBar.tsx';

/** An own share at or above this is ROUTING.md's target (≥ 80% on every domain). */
const TARGET_SHARE = 0.8;

/**
 * Routing by domain: a text set per expert routed through the loaded model, and per expert's
 * texts the share of tokens whose top-1 expert is that expert (per layer and averaged), beside
 * where the other top-1 choices went. The table public/zoo/ROUTING.md reports, for any text set.
 */
export function RoutingDomainsView({
  labels,
  experts,
  ready,
  overrides,
}: {
  labels: ExpertLabel[];
  /** The loaded model's expert count (0 when none is loaded or it is dense). */
  experts: number;
  ready: boolean;
  overrides?: RoutingOverrides;
}) {
  const state = useRoutingDomains(useShallow((s) => s));
  const zoo = useLibrary((s) => s.zoo);
  const donors = labels.map((l) => l.donor);
  const zooDomains = Array.from({ length: experts }, (_, e) => zooDomainOf(donors[e] ?? '', zoo));
  const running = state.status === 'running';
  const name = (e: number) => expertLabel(donors, e);
  const layers = state.shares?.[0]?.ownShare.length ?? 0;
  return (
    <section className="card" aria-labelledby="domains-h" data-testid="routing-domains">
      <h3 id="domains-h">Routing by domain</h3>
      <p className="muted small">
        Texts labelled by expert go through the loaded model; for each expert's texts, the share of tokens whose first
        choice is that expert (the own-domain share public/zoo/ROUTING.md reports; 80% is its target). Texts file: one{' '}
        <code>{'{"expert": <index>, "text": "…"}'}</code> a line, as for calibration.
        {overrides ? " Chat's routing controls apply." : ''}
      </p>
      <div className="row wrap">
        <button
          type="button"
          disabled={!ready || running || !zooDomains.some(Boolean)}
          title={zooDomains.some(Boolean) ? undefined : 'Needs a model built from zoo experts'}
          onClick={() => void routingDomainsZoo(zooDomains, overrides)}
        >
          Route the zoo held-out texts
        </button>
        <label className="file-button">
          <FileUp className="icon" aria-hidden="true" /> Route a texts file (.jsonl){' '}
          <input
            type="file"
            accept=".jsonl,application/jsonl,text/plain"
            disabled={!ready || running || experts === 0}
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void routingDomainsFile(file, experts, overrides);
              e.target.value = '';
            }}
          />
        </label>
        {running && (
          <button type="button" onClick={routingDomainsCancel}>
            Cancel routing by domain
          </button>
        )}
      </div>
      {running && state.progress && (
        <ProgressBar label="Routing texts" done={state.progress.done} total={state.progress.total} />
      )}
      {state.status === 'failed' && <p role="alert">{state.error}</p>}
      {state.status === 'done' && state.shares && (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable (WCAG 2.1.1, axe scrollable-region-focusable)
        <section className="table-scroll" tabIndex={0} aria-label="Own-expert share by domain, scrolls sideways">
          <table data-testid="routing-domains-table">
            <caption>
              {state.source}
              {state.overridden ? ", with Chat's routing controls" : ''}: own-expert top-1 share
            </caption>
            <thead>
              <tr>
                <th scope="col">texts of</th>
                <th scope="col">tokens</th>
                <th scope="col">own share (mean)</th>
                {Array.from({ length: layers }, (_, l) => (
                  <th key={l} scope="col">
                    layer {l}
                  </th>
                ))}
                {Array.from({ length: experts }, (_, e) => (
                  <th key={`to-${e}`} scope="col">
                    top-1 → {name(e)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {state.shares.map((s) => (
                <tr key={s.expert} data-testid={`routing-domain-${s.expert}`}>
                  <th scope="row">
                    <span className="swatch" style={{ background: expertColor(s.expert) }} aria-hidden="true" />{' '}
                    {name(s.expert)}
                  </th>
                  <td>{s.tokens.toLocaleString('en-US')}</td>
                  <td>
                    <strong>{percent(s.ownShareMean)}</strong>
                    {s.ownShareMean >= TARGET_SHARE ? '' : ' (below 80%)'}
                  </td>
                  {s.ownShare.map((x, l) => (
                    <td key={l}>{percent(x)}</td>
                  ))}
                  {s.top1.map((x, e) => (
                    <td key={`to-${e}`}>{percent(x)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </section>
  );
}
