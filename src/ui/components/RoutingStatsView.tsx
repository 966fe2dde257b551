import type { TokenRouting } from '../../core/runtime/types.ts';
import { coActivation, expertLoad, routerEntropy, stickiness } from '../../state/routing-stats.ts';
import { expertColor, percent } from '../format.ts';

import type { ExpertLabel } from './expert-labels.ts';

/**
 * Table cells keep the theme's text colour, so their tints stay light enough (in light) or dark
 * enough (in dark) for 4.5:1 contrast: an expert colour at most 35% over the surface (yellow
 * is the worst case in the dark theme), the co-activation blue at most 70%.
 */
const TINT_CAP = 35;

/** Every layer at a glance: expert load per layer (cell shade = share), entropy, stickiness. */
export function LayerOverview({
  trace,
  layers,
  experts,
  labels = [],
}: {
  trace: TokenRouting[];
  layers: number;
  experts: number;
  /** Donors of the loaded model's experts (none for a trace file of another model). */
  labels?: ExpertLabel[];
}) {
  return (
    // A narrow screen scrolls the table sideways; the region takes focus so a keyboard can scroll it too.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable (WCAG 2.1.1, axe scrollable-region-focusable)
    <section className="table-scroll" tabIndex={0} aria-label="Expert load by layer, scrolls sideways">
      <table className="layer-overview" aria-label="Expert load by layer" data-testid="layer-overview">
        <caption>Expert load by layer</caption>
        <thead>
          <tr>
            <th scope="col">Layer</th>
            {Array.from({ length: experts }, (_, e) => (
              <th key={e} scope="col">
                E{e}
                {labels[e] ? <span className="expert-donor"> {labels[e].donor}</span> : null}
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
                    style={{
                      background: `color-mix(in srgb, ${expertColor(e)} ${Math.round(f * TINT_CAP)}%, var(--surface))`,
                    }}
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
    </section>
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
                {labels[e] ? <span className="expert-donor"> {labels[e].donor}</span> : null}
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
                  style={{
                    background: `color-mix(in srgb, rgb(0, 114, 178) ${Math.round((v / coMax) * 70)}%, var(--surface))`,
                  }}
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
