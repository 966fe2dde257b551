import { FileUp } from 'lucide-react';
import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useEngine } from '../../state/engine.ts';
import { composeSources, useCompose } from '../../state/compose.ts';
import {
  routingAnalyzeText,
  routingAnalyzeWithComposeGates,
  routingFromConversation,
  routingOpenTraceFile,
  routingSetLayer,
  useRouting,
  type RoutingSlot,
} from '../../state/routing.ts';
import { useChat } from '../../state/chat.ts';
import { compareTraces } from '../../state/routing-stats.ts';
import { describeRouting, expertLabel, percent } from '../format.ts';
import { hasRoutingOverrides } from '../../core/runtime/routing.ts';
import { Heatmap } from '../components/Heatmap.tsx';
import { CalibrationTable } from '../components/CalibratePane.tsx';
import type { MergeCalibrationSummary } from '../../../workers/merge/api.ts';
import { LayerOverview, RoutingStatsView } from '../components/RoutingStatsView.tsx';
import { RoutingDomainsView } from '../components/RoutingDomainsView.tsx';
import { type ExpertLabel, useExpertLabels, useLoadedNotes } from '../components/expert-labels.ts';

/** The loaded model's router calibration (from its notes), before → after on its calibration texts. */
function CalibrationRecord({ labels }: { labels: ExpertLabel[] }) {
  const calibration = useLoadedNotes()?.calibration as MergeCalibrationSummary | undefined;
  if (!calibration) return null;
  return (
    <details className="card" data-testid="routing-calibration">
      <summary>
        Router calibrated ({calibration.method}, {calibration.texts} texts): routing before → after
      </summary>
      <CalibrationTable summary={calibration} labels={labels.map((l) => l.donor)} />
    </details>
  );
}

function SlotView({
  index,
  slot,
  layer,
  labels,
}: {
  index: 0 | 1;
  slot: RoutingSlot;
  layer: number;
  labels: ExpertLabel[];
}) {
  const first = slot.result?.routing.find((r) => r.layers.length > 0);
  const layers = first?.layers.length ?? 0; // from the trace itself: it may come from the Compose router
  const experts = first?.layers[0]?.moeProbs.length ?? 0;
  const [text, setText] = useState('');
  const letter = index === 0 ? 'A' : 'B';
  const composeYaml = useCompose((s) => (s.form.base && s.form.experts.length ? s.yaml : ''));
  const overrides = useChat((s) => s.overrides);
  const hasOverrides = hasRoutingOverrides(overrides);
  return (
    <section className="card routing-slot" aria-label={`Trace ${slot.label}`}>
      <form
        className="row wrap"
        onSubmit={(e) => {
          e.preventDefault();
          void routingAnalyzeText(index, text, hasOverrides ? overrides : undefined);
        }}
      >
        <label className="grow">
          Text {letter} <input value={text} onChange={(e) => setText(e.target.value)} placeholder="Any text to route" />
        </label>
        <button type="submit" aria-label={`Route text into trace ${letter}`} disabled={slot.busy || !text}>
          {slot.busy ? 'Routing…' : 'Route text'}
        </button>
        <button
          type="button"
          aria-label={`Use the last answer as trace ${letter}`}
          onClick={() => routingFromConversation(index)}
        >
          Use the last answer
        </button>
        <button
          type="button"
          disabled={slot.busy || !text || !composeYaml}
          aria-label={`Route with the Compose gates as trace ${letter}`}
          title="Route with the gates the Compose page would build, to compare two routers"
          onClick={() => void routingAnalyzeWithComposeGates(index, text, composeYaml, composeSources())}
        >
          Route with the Compose gates
        </button>
        <label className="file-button">
          <FileUp className="icon" aria-hidden="true" /> Open a trace file (JSON){' '}
          <input
            type="file"
            accept=".json,application/json"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void routingOpenTraceFile(index, file);
              e.target.value = '';
            }}
          />
        </label>
      </form>
      {hasOverrides && (
        <p className="muted small" data-testid={`routing-overrides-${index}`}>
          Route text applies Chat's routing controls:{' '}
          {describeRouting(overrides, (e) =>
            expertLabel(
              labels.map((l) => l.donor),
              e,
            ),
          )}
          .
        </p>
      )}
      {slot.error && <p role="alert">{slot.error}</p>}
      {slot.result && (
        <>
          <Heatmap
            pieces={slot.result.pieces}
            trace={slot.result.routing}
            layers={layers}
            label={slot.label}
            expertNames={labels.map((l) => l.donor)}
          />
          {experts > 0 && (
            <LayerOverview trace={slot.result.routing} layers={layers} experts={experts} labels={labels} />
          )}
          {experts > 0 && (
            <RoutingStatsView trace={slot.result.routing} layer={layer} experts={experts} labels={labels} />
          )}
        </>
      )}
    </section>
  );
}

export function RoutingPage() {
  const { slots, layer } = useRouting(useShallow((s) => ({ slots: s.slots, layer: s.layer })));
  const { layers, experts, ready } = useEngine(
    useShallow((s) => ({
      layers: s.model?.layers ?? 0,
      experts: s.model?.experts ?? 0,
      ready: s.state.kind === 'ready',
    })),
  );
  const overrides = useChat((s) => s.overrides);
  const labels = useExpertLabels();
  // Opening the page shows the last answer at once (A), if the conversation has one.
  useEffect(() => {
    if (!useRouting.getState().slots[0].result) routingFromConversation(0, true);
  }, []);
  return (
    <div className="page routing-page" data-testid="page-routing">
      <div className="card row wrap">
        {!ready && <p className="muted">Load a MoE model (Library or Compose) to route text.</p>}
        <label>
          Statistics for layer{' '}
          <select value={layer} onChange={(e) => routingSetLayer(Number(e.target.value))}>
            {Array.from(
              {
                length: Math.max(
                  layers,
                  ...slots.map((x) => x.result?.routing.find((r) => r.layers.length)?.layers.length ?? 0),
                ),
              },
              (_, l) => (
                <option key={l} value={l}>
                  {l}
                </option>
              ),
            )}
          </select>
        </label>
        {labels.length > 0 && (
          <ul className="expert-labels" aria-label="Experts">
            {labels.map((l, e) => (
              <li key={e}>
                <strong>E{e}</strong> {l.donor}: + {l.positive.join(' | ') || '—'}
                {l.negative.length ? ` − ${l.negative.join(' | ')}` : ''}
              </li>
            ))}
          </ul>
        )}
      </div>
      <CalibrationRecord labels={labels} />
      <div className="compare">
        <SlotView index={0} slot={slots[0]} layer={layer} labels={labels} />
        <SlotView index={1} slot={slots[1]} layer={layer} labels={labels} />
      </div>
      <Comparison slots={slots} />
      <RoutingDomainsView
        labels={labels}
        experts={experts}
        ready={ready}
        overrides={hasRoutingOverrides(overrides) ? overrides : undefined}
      />
    </div>
  );
}

/** A/B in numbers: per layer, how often the two traces pick the same top-1 expert and how far apart their loads are. */
function Comparison({ slots }: { slots: [RoutingSlot, RoutingSlot] }) {
  const [a, b] = slots.map((s) => s.result?.routing);
  if (!a || !b) return null;
  const first = a.find((r) => r.layers.length > 0);
  const layers = first?.layers.length ?? 0;
  const experts = first?.layers[0]?.moeProbs.length ?? 0;
  if (layers === 0 || experts === 0) return null;
  const { top1Agreement, loadDifference } = compareTraces(a, b, layers, experts);
  return (
    <section className="card" aria-labelledby="compare-h" data-testid="routing-compare">
      <h3 id="compare-h">A vs B</h3>
      <p className="muted small">
        Top-1 agreement: share of tokens routed first to the same expert (same text only). Load difference: half the
        summed gap between the two expert loads, 0% (same) to 100% (no expert shared).
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">layer</th>
            <th scope="col">top-1 agreement</th>
            <th scope="col">load difference</th>
          </tr>
        </thead>
        <tbody>
          {loadDifference.map((d, l) => (
            <tr key={l}>
              <th scope="row">{l}</th>
              <td>{top1Agreement ? percent(top1Agreement[l]!) : 'different texts'}</td>
              <td>{percent(d)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
