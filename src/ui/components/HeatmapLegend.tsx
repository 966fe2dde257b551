/** The routing picture's legend (donors, what a cell's colour and bands mean) and its per-token detail panel. */
import type { TokenRouting } from '../../core/runtime/types.ts';
import { expertColor, expertLabel, visibleWhitespace } from '../format.ts';
import type { CellMode } from './heatmap-picture.ts';

export function HeatmapLegend({
  experts,
  expertNames,
  cells,
}: {
  experts: number;
  expertNames: readonly string[];
  cells: CellMode;
}) {
  if (experts === 0) return <p className="muted small">A dense model: no experts to colour.</p>;
  return (
    <div className="heatmap-legend" data-testid="heatmap-legend">
      <ul className="legend" aria-label="Expert colours">
        {Array.from({ length: experts }, (_, e) => (
          <li key={e}>
            <i style={{ background: expertColor(e) }} aria-hidden="true" /> {expertLabel(expertNames, e)}
          </li>
        ))}
      </ul>
      {cells === 'split' ? (
        <p className="muted small" data-testid="cell-note">
          <span className="split-sample" aria-hidden="true" /> Top-2 split: the upper band is the expert ranked first at
          that layer, the lower band the second; each band's height is that expert's weight (a full cell = 100%). The
          agree row: share of layers whose first choice is the token's most common one.
        </p>
      ) : (
        <p className="muted small" data-testid="cell-note">
          Colour: the expert ranked first at that layer. Intensity: its weight{' '}
          <span className="opacity-scale" aria-hidden="true" /> faint 0% → solid 100%. The agree row: share of layers
          whose first choice is the token's most common one.
        </p>
      )}
    </div>
  );
}

/** One token at every layer: the chosen experts with their weights (the focused layer marked). */
export function TokenDetail({
  token,
  piece,
  routing,
  layer,
  expertNames,
}: {
  token: number;
  piece: string;
  routing: TokenRouting | undefined;
  layer: number | undefined;
  expertNames: readonly string[];
}) {
  return (
    <section className="heatmap-detail" aria-label="Token detail" data-testid="heatmap-detail">
      <p>
        Token {token} <code>{visibleWhitespace(piece)}</code>
      </p>
      {routing?.layers.length ? (
        <table>
          <tbody>
            {routing.layers.map((l, i) => (
              <tr key={i} aria-current={i === layer ? 'true' : undefined}>
                <th scope="row">L{i}</th>
                <td>
                  {l.expertIds.map((e, k) => (
                    <span key={k} className="detail-expert">
                      <i className="detail-swatch" style={{ background: expertColor(e) }} aria-hidden="true" />
                      {expertLabel(expertNames, e)} {Math.round((l.expertWeights[k] ?? 0) * 100)}%
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">no routing (dense model)</p>
      )}
    </section>
  );
}
