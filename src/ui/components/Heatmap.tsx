import { useCallback, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { Download } from 'lucide-react';
import {
  Label,
  Slider,
  SliderOutput,
  SliderThumb,
  SliderTrack,
  ToggleButton,
  ToggleButtonGroup,
} from 'react-aria-components';
import type { TokenRouting } from '../../core/runtime/types.ts';
import { downloadBytes } from '../../state/export.ts';
import { majorityTop1, routingTraceCsv } from '../../state/routing-stats.ts';
import { expertLabel, formatBytes, visibleWhitespace } from '../format.ts';
import {
  type CellMode,
  cellBackground,
  cellBands,
  routingPictureSvg,
  routingPicturePng,
  type PictureInput,
  tracePerToken,
} from './heatmap-picture.ts';
import { HeatmapLegend, TokenDetail } from './HeatmapLegend.tsx';

/** Widths of the row labels and the token-text header, and one cell's height (px). */
const LABEL_W = 44;
const HEAD_H = 72;
const CELL_H = 22;
/** The zoom slider's range and step (cell width in px). */
const ZOOM = { min: 6, max: 32, step: 2 } as const;
const DEFAULT_ZOOM = 18;
/** Token columns rendered beyond each edge of the visible window, so a fast scroll shows no gap. */
const OVERSCAN = 8;
/** Token columns assumed visible before the scroller has been measured. */
const FIRST_WINDOW = 80;

interface Cell {
  token: number;
  layer: number;
}

/**
 * The routing picture: rows = layers (L0…), columns = tokens headed by their text; a cell is
 * split into the top-1 and top-2 experts' bands, each as tall as its weight (or, as chosen,
 * the top-1 expert's colour at an opacity given by its weight); under the grid an "agree" strip
 * (share of layers agreeing with the token's most common first choice). Only the visible
 * window of token columns is in the DOM, so thousands of tokens stay smooth. An ARIA grid with
 * one roving tab stop: arrow keys (Home/End, PageUp/PageDown) move between cells, and the
 * detail panel shows the focused (or hovered) token at every layer.
 */
export function Heatmap({
  pieces,
  trace,
  layers,
  label,
  expertNames,
}: {
  pieces: string[];
  trace: TokenRouting[];
  layers: number;
  label: string;
  expertNames: readonly string[];
}) {
  const n = trace.length;
  const experts = trace.find((t) => t.layers.length)?.layers[0]?.moeProbs.length ?? 0;
  const perToken = tracePerToken(trace);
  const [cellW, setCellW] = useState<number>(DEFAULT_ZOOM);
  const [chosenCells, setCells] = useState<CellMode>('split');
  const cells: CellMode = perToken >= 2 ? chosenCells : 'top1'; // one expert per token: nothing to split
  const [focus, setFocus] = useState<Cell>({ token: 0, layer: 0 });
  const [hover, setHover] = useState<number | undefined>();
  const [view, setView] = useState({ left: 0, width: FIRST_WINDOW * DEFAULT_ZOOM });
  const [saved, setSaved] = useState('');
  const scroller = useRef<HTMLDivElement>(null);
  const grid = useRef<HTMLTableElement>(null);
  const moved = useRef(false);

  const measure = useCallback(() => {
    const el = scroller.current;
    if (el) setView({ left: el.scrollLeft, width: el.clientWidth });
  }, []);
  useLayoutEffect(() => {
    measure();
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [measure]);

  // A new trace (or a shorter one) keeps the focus inside it.
  const token = Math.min(focus.token, Math.max(0, n - 1));
  const layer = Math.min(focus.layer, Math.max(0, layers - 1));

  const first = Math.max(0, Math.floor((view.left - LABEL_W) / cellW) - OVERSCAN);
  const last = Math.min(n - 1, Math.ceil((view.left + view.width - LABEL_W) / cellW) + OVERSCAN);
  const columns: number[] = [];
  for (let t = first; t <= last; t++) columns.push(t);
  // The roving tab stop stays in the DOM even when scrolled away, so Tab still reaches the grid.
  if (n > 0 && (token < first || token > last)) columns.push(token);

  // After a key press, bring the focused cell into view and move DOM focus to it.
  useLayoutEffect(() => {
    if (!moved.current) return;
    moved.current = false;
    const el = scroller.current;
    if (el) {
      const x = LABEL_W + token * cellW;
      if (x < el.scrollLeft + LABEL_W) el.scrollLeft = x - LABEL_W;
      else if (x + cellW > el.scrollLeft + el.clientWidth) el.scrollLeft = x + cellW - el.clientWidth;
      measure();
    }
    grid.current?.querySelector<HTMLElement>(`[data-token="${token}"][data-layer="${layer}"]`)?.focus();
  });

  const onKeyDown = (e: KeyboardEvent<HTMLTableElement>) => {
    const page = Math.max(1, Math.floor((view.width - LABEL_W) / cellW));
    const next: Record<string, Cell> = {
      ArrowRight: { token: token + 1, layer },
      ArrowLeft: { token: token - 1, layer },
      ArrowDown: { token, layer: layer + 1 },
      ArrowUp: { token, layer: layer - 1 },
      PageDown: { token: token + page, layer },
      PageUp: { token: token - page, layer },
      Home: e.ctrlKey ? { token: 0, layer: 0 } : { token: 0, layer },
      End: e.ctrlKey ? { token: n - 1, layer: layers - 1 } : { token: n - 1, layer },
    };
    const to = next[e.key];
    if (!to) return;
    e.preventDefault();
    moved.current = true;
    setHover(undefined);
    setFocus({
      token: Math.max(0, Math.min(n - 1, to.token)),
      layer: Math.max(0, Math.min(layers - 1, to.layer)),
    });
  };

  const picture = (): PictureInput => ({
    pieces,
    trace,
    layers,
    expertNames: [...expertNames],
    experts,
    title: label,
    cells,
  });
  const slug = label.replace(/[^\w.-]+/g, '-').replace(/^-|-$/g, '') || 'trace';
  const save = async (ext: 'csv' | 'png' | 'svg') => {
    const name = `routing-${slug}.${ext}`;
    try {
      const bytes =
        ext === 'csv'
          ? routingTraceCsv(pieces, trace, expertNames)
          : ext === 'svg'
            ? routingPictureSvg(picture())
            : await routingPicturePng(picture());
      const type = { csv: 'text/csv', svg: 'image/svg+xml', png: 'image/png' }[ext];
      downloadBytes(name, bytes, type);
      const size = typeof bytes === 'string' ? new TextEncoder().encode(bytes).byteLength : bytes.byteLength;
      setSaved(`Saved ${name} (${formatBytes(size)}).`);
    } catch (err) {
      setSaved(`${name} could not be made: ${(err as Error).message}`);
    }
  };

  const shown = hover ?? token;
  if (layers === 0)
    return (
      <figure className="heatmap" data-testid="heatmap">
        <figcaption>
          <strong>{label}</strong>: {n.toLocaleString()} {n === 1 ? 'token' : 'tokens'}, no routing: a dense model has
          no experts to route to. Load a MoE (Library or Compose) to see routing.
        </figcaption>
      </figure>
    );
  const cellStyle = (t: number) => ({ left: LABEL_W + t * cellW, width: cellW });
  return (
    <figure className="heatmap" data-testid="heatmap">
      <figcaption>
        <strong>{label}</strong>: {layers} {layers === 1 ? 'layer' : 'layers'} × {n.toLocaleString()}{' '}
        {n === 1 ? 'token' : 'tokens'}
      </figcaption>
      <HeatmapLegend experts={experts} expertNames={expertNames} cells={cells} />
      <div className="row wrap heatmap-tools">
        {perToken >= 2 && (
          <ToggleButtonGroup
            aria-label="Cells show"
            className="segmented"
            selectionMode="single"
            disallowEmptySelection
            selectedKeys={[cells]}
            onSelectionChange={(keys) => {
              const [key] = [...keys];
              if (key === 'split' || key === 'top1') setCells(key);
            }}
          >
            <ToggleButton id="split" className="react-aria-ToggleButton">
              Top-2 split
            </ToggleButton>
            <ToggleButton id="top1" className="react-aria-ToggleButton">
              Top-1 intensity
            </ToggleButton>
          </ToggleButtonGroup>
        )}
        <Slider
          className="zoom-slider"
          value={cellW}
          onChange={(v) => setCellW(v as number)}
          minValue={ZOOM.min}
          maxValue={ZOOM.max}
          step={ZOOM.step}
        >
          <Label>Cell width (px)</Label>
          <SliderOutput className="zoom-output" />
          <SliderTrack className="slider-track">
            <SliderThumb className="slider-thumb" />
          </SliderTrack>
        </Slider>
        {(['csv', 'png', 'svg'] as const).map((ext) => (
          <button
            key={ext}
            type="button"
            className="secondary"
            aria-label={`Download ${ext.toUpperCase()} of routing ${label}`}
            onClick={() => void save(ext)}
          >
            <Download className="icon" aria-hidden="true" /> Download {ext.toUpperCase()}
          </button>
        ))}
        <span className="muted small" role="status" data-testid="heatmap-saved">
          {saved}
        </span>
      </div>
      <div className="heatmap-scroll" ref={scroller} onScroll={measure}>
        <table
          ref={grid}
          // biome-ignore lint/a11y/noNoninteractiveElementToInteractiveRole: ARIA in HTML allows role=grid on a table (the APG data grid): its cells are roving tab stops
          role="grid"
          aria-label={`Routing of ${label}: ${layers} layers by ${n} tokens; arrow keys move between cells`}
          aria-rowcount={layers + 2}
          aria-colcount={n + 1}
          className="hm-grid"
          style={{ width: LABEL_W + n * cellW }}
          onKeyDown={onKeyDown}
          onMouseLeave={() => setHover(undefined)}
        >
          <thead>
            <tr aria-rowindex={1} className="hm-row hm-head" style={{ height: HEAD_H }}>
              <th scope="col" aria-colindex={1} className="hm-label">
                token
              </th>
              {columns.map((t) => (
                <th
                  key={t}
                  scope="col"
                  aria-colindex={t + 2}
                  className={`hm-tok${t === shown ? ' hm-current' : ''}`}
                  style={cellStyle(t)}
                  data-testid="heatmap-token"
                >
                  <span>{visibleWhitespace(pieces[t] ?? '')}</span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {Array.from({ length: layers }, (_, l) => (
              <tr key={l} aria-rowindex={l + 2} className="hm-row" style={{ height: CELL_H }}>
                <th scope="row" aria-colindex={1} className="hm-label">
                  L{l}
                </th>
                {columns.map((t) => {
                  const r = trace[t]?.layers[l];
                  const e = r?.expertIds[0] ?? -1;
                  const w = r?.expertWeights[0] ?? 0;
                  const second =
                    cells === 'split' && r && r.expertIds.length > 1
                      ? `, then ${expertLabel(expertNames, r.expertIds[1]!)} ${Math.round((r.expertWeights[1] ?? 0) * 100)}%`
                      : '';
                  const focused = t === token && l === layer;
                  return (
                    <td
                      key={t}
                      aria-colindex={t + 2}
                      aria-label={`token ${t} “${pieces[t] ?? ''}”, layer ${l}: ${expertLabel(expertNames, e)} ${Math.round(w * 100)}%${second}`}
                      tabIndex={focused ? 0 : -1}
                      data-token={t}
                      data-layer={l}
                      className={`hm-cell${t === shown ? ' hm-current' : ''}`}
                      style={{ ...cellStyle(t), background: cellBackground(cellBands(r, cells)) }}
                      onMouseEnter={() => setHover(t)}
                      onFocus={() => setFocus({ token: t, layer: l })}
                    />
                  );
                })}
              </tr>
            ))}
            <tr aria-rowindex={layers + 2} className="hm-row hm-agree" style={{ height: CELL_H }}>
              <th scope="row" aria-colindex={1} className="hm-label" title="Share of layers that agree">
                agree
              </th>
              {columns.map((t) => {
                const m = majorityTop1(trace[t]);
                return (
                  <td
                    key={t}
                    aria-colindex={t + 2}
                    aria-label={`token ${t}: ${Math.round(m.share * 100)}% of layers agree`}
                    className="hm-cell"
                    style={cellStyle(t)}
                  >
                    <i style={{ height: `${Math.round(m.share * 100)}%` }} />
                  </td>
                );
              })}
            </tr>
          </tbody>
        </table>
      </div>
      {n > 0 && (
        <TokenDetail
          token={shown}
          piece={pieces[shown] ?? ''}
          routing={trace[shown]}
          layer={hover === undefined ? layer : undefined}
          expertNames={expertNames}
        />
      )}
    </figure>
  );
}
