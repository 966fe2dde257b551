import type { TokenRouting } from '../../core/runtime/types.ts';
import { coActivation, expertLoad, routerEntropy, stickiness } from '../../state/routing-stats.ts';
import { expertColor, percent } from '../format.ts';

import type { ExpertLabel } from './expert-labels.ts';

/** Every layer at a glance: expert load per layer (cell shade = share), entropy, stickiness. */
export function LayerOverview({ trace, layers, experts }: { trace: TokenRouting[]; layers: number; experts: number }) {
  return (
    <table className="layer-overview" aria-label="Expert load by layer" data-testid="layer-overview">
      <caption>Expert load by layer</caption>
      <thead>
        <tr>
          <th scope="col">Layer</th>
          {Array.from({ length: experts }, (_, e) => (
            <th key={e} scope="col">
              E{e}
            </th>
          ))}
          <th scope="col">Entropy (bits)</th>
          <th scope="col">Same top-1 as previous token</th>
        </tr>
      </thead>
      <tbody>
        {Array.from({ length: layers }, (_, l) => {
          const load = expertLoad(trace, l, experts);
          return (
            <tr key={l}>
              <th scope="row">{l}</th>
              {load.map((f, e) => (
                <td
                  key={e}
                  style={{ background: `color-mix(in srgb, ${expertColor(e)} ${Math.round(f * 100)}%, white)` }}
                >
                  {percent(f)}
                </td>
              ))}
              <td>{routerEntropy(trace, l).toFixed(2)}</td>
              <td>{percent(stickiness(trace, l).top1)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Per-layer expert load bars, router entropy, stickiness and co-activation for one trace. */
export function RoutingStatsView({
  trace,
  layer,
  experts,
  labels,
}: {
  trace: TokenRouting[];
  layer: number;
  experts: number;
  labels: ExpertLabel[];
}) {
  const load = expertLoad(trace, layer, experts);
  const entropy = routerEntropy(trace, layer);
  const stick = stickiness(trace, layer);
  const co = coActivation(trace, layer, experts);
  const coMax = Math.max(1, ...co.flat());
  return (
    <div className="routing-stats" data-testid="routing-stats">
      <h4>Layer {layer}</h4>
      <ul className="load-bars" aria-label="Expert load">
        {load.map((f, e) => (
          <li
            key={e}
            title={
              labels[e]
                ? `${labels[e].donor}\n+ ${labels[e].positive.join(' | ')}\n− ${labels[e].negative.join(' | ')}`
                : undefined
            }
          >
            <span className="bar-label">
              E{e}
              {labels[e] ? ` · ${labels[e].donor}` : ''}
            </span>
            <span className="bar">
              <span style={{ width: percent(f), background: expertColor(e) }} />
            </span>
            <span className="bar-value">{percent(f)}</span>
          </li>
        ))}
      </ul>
      <p>
        Router entropy: {entropy.toFixed(3)} bits (uniform = {Math.log2(Math.max(1, experts)).toFixed(3)})
      </p>
      <p>
        Stickiness: same first choice for consecutive tokens {percent(stick.top1)} (chance{' '}
        {percent(1 / Math.max(1, experts))}); any shared expert {percent(stick.anyOverlap)} over {stick.pairs} pairs
      </p>
      <table className="coact" aria-label="Expert co-activation">
        <caption>Co-activation (tokens choosing both)</caption>
        <thead>
          <tr>
            <th scope="col" />
            {co.map((_, e) => (
              <th key={e} scope="col">
                E{e}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {co.map((row, a) => (
            <tr key={a}>
              <th scope="row">E{a}</th>
              {row.map((v, b) => (
                <td
                  key={b}
                  style={{ background: `rgba(0,114,178,${v / coMax})`, color: v / coMax > 0.5 ? '#fff' : '#000' }}
                >
                  {v}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
