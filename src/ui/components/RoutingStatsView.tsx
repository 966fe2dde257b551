import type { TokenRouting } from '../../core/runtime/types.ts';
import { coActivation, expertLoad, routerEntropy, stickiness } from '../../state/routing-stats.ts';
import { expertColor, percent } from '../format.ts';

export interface ExpertLabel { donor: string; positive: string[]; negative: string[] }

/** Per-layer expert load bars, router entropy, stickiness and co-activation for one trace. */
export function RoutingStatsView({ trace, layer, experts, labels }: { trace: TokenRouting[]; layer: number; experts: number; labels: ExpertLabel[] }) {
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
          <li key={e} title={labels[e] ? `${labels[e].donor}\n+ ${labels[e].positive.join(' | ')}\n− ${labels[e].negative.join(' | ')}` : undefined}>
            <span className="bar-label">E{e}{labels[e] ? ` · ${labels[e].donor}` : ''}</span>
            <span className="bar"><span style={{ width: percent(f), background: expertColor(e) }} /></span>
            <span className="bar-value">{percent(f)}</span>
          </li>
        ))}
      </ul>
      <p>Router entropy: {entropy.toFixed(3)} bits (uniform = {Math.log2(Math.max(1, experts)).toFixed(3)})</p>
      <p>Stickiness: same first choice for consecutive tokens {percent(stick.top1)} (chance {percent(1 / Math.max(1, experts))}); any shared expert {percent(stick.anyOverlap)} over {stick.pairs} pairs</p>
      <table className="coact" aria-label="Expert co-activation">
        <caption>Co-activation (tokens choosing both)</caption>
        <thead><tr><th scope="col" />{co.map((_, e) => <th key={e} scope="col">E{e}</th>)}</tr></thead>
        <tbody>{co.map((row, a) => <tr key={a}><th scope="row">E{a}</th>{row.map((v, b) => <td key={b} style={{ background: `rgba(0,114,178,${v / coMax})`, color: v / coMax > 0.5 ? '#fff' : '#000' }}>{v}</td>)}</tr>)}</tbody>
      </table>
    </div>
  );
}
