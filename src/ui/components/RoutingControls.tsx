import { useState } from 'react';
import { useChat, chatSetOverrides } from '../../state/chat.ts';
import { useEngine } from '../../state/engine.ts';
import { expertLabel, parseLayerList } from '../format.ts';

type Mode = 'auto' | 'force' | 'ban';

/** Choices of dynamic routing's p (as in public/zoo/ROUTING.md's table). */
const EXPERTS_TOP_P = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95];

/**
 * Runtime routing interventions for the next answers: experts per token or top-p over experts
 * (one or the other: both at every layer is a ConfigError in planRouting), force or ban experts,
 * at every layer or only at the layers listed.
 */
export function RoutingControls({ experts, names = [] }: { experts: number; names?: readonly string[] }) {
  const overrides = useChat((s) => s.overrides);
  const modelExpertsPerToken = useEngine((s) => s.model?.expertsPerToken ?? 1);
  const modelLayers = useEngine((s) => s.model?.layers ?? 0);
  const scopedLayers = overrides.force?.layers ?? overrides.ban?.layers;
  const [layersText, setLayersText] = useState(scopedLayers?.join(', ') ?? '');
  const parsedLayers = parseLayerList(layersText, modelLayers);
  const modeOf = (e: number): Mode =>
    overrides.force?.experts.includes(e) ? 'force' : overrides.ban?.experts.includes(e) ? 'ban' : 'auto';
  const apply = (force: number[], ban: number[], layers: number[] | undefined) =>
    chatSetOverrides({
      ...overrides,
      force: force.length ? { experts: force, ...(layers && { layers }) } : undefined,
      ban: ban.length ? { experts: ban, ...(layers && { layers }) } : undefined,
    });
  const setMode = (e: number, mode: Mode) => {
    const force = (overrides.force?.experts ?? []).filter((x) => x !== e);
    const ban = (overrides.ban?.experts ?? []).filter((x) => x !== e);
    if (mode === 'force') force.push(e);
    if (mode === 'ban') ban.push(e);
    apply(force, ban, scopedLayers);
  };
  const setLayers = (text: string) => {
    setLayersText(text);
    const parsed = parseLayerList(text, modelLayers);
    if (parsed.ok) apply(overrides.force?.experts ?? [], overrides.ban?.experts ?? [], parsed.layers);
  };
  return (
    <fieldset data-testid="routing-controls">
      <legend>Routing for the next tokens</legend>
      <label>
        Experts per token{' '}
        <select
          value={overrides.expertsPerToken ?? ''}
          disabled={overrides.expertsTopP !== undefined}
          title={overrides.expertsTopP ? 'Experts top-p chooses how many experts each token gets' : undefined}
          onChange={(e) =>
            chatSetOverrides({ ...overrides, expertsPerToken: e.target.value ? Number(e.target.value) : undefined })
          }
        >
          <option value="">model default ({modelExpertsPerToken})</option>
          {Array.from({ length: experts }, (_, i) => (
            <option key={i} value={i + 1}>
              {i + 1}
            </option>
          ))}
        </select>
      </label>
      <label>
        Experts top-p{' '}
        <select
          value={overrides.expertsTopP?.p ?? ''}
          onChange={(e) =>
            chatSetOverrides({
              ...overrides,
              expertsPerToken: undefined,
              expertsTopP: e.target.value ? { p: Number(e.target.value) } : undefined,
            })
          }
        >
          <option value="">off (a fixed number)</option>
          {EXPERTS_TOP_P.map((p) => (
            <option key={p} value={p}>
              {p}: fewest experts reaching {Math.round(p * 100)}%
            </option>
          ))}
        </select>
      </label>
      {Array.from({ length: experts }, (_, e) => (
        <label key={e}>
          {expertLabel(names, e)}{' '}
          <select
            aria-label={`Expert ${e} routing${names[e] ? ` (${names[e]})` : ''}`}
            value={modeOf(e)}
            onChange={(ev) => setMode(e, ev.target.value as Mode)}
          >
            <option value="auto">router decides</option>
            <option value="force">force</option>
            <option value="ban">ban</option>
          </select>
        </label>
      ))}
      <label>
        Force and ban at layers{' '}
        <input
          value={layersText}
          placeholder="all"
          inputMode="numeric"
          aria-invalid={!parsedLayers.ok || undefined}
          aria-describedby="routing-layers-note"
          onChange={(e) => setLayers(e.target.value)}
        />
      </label>
      <p id="routing-layers-note" className="muted small" role={parsedLayers.ok ? undefined : 'alert'}>
        {parsedLayers.ok
          ? `Empty: every layer. Or layer numbers, e.g. "0, 2" (this model has ${modelLayers}: 0 to ${modelLayers - 1}).`
          : `Layers: ${parsedLayers.message}.`}
      </p>
      <p className="muted small">Applies to the next answer; press Regenerate to see the answer change.</p>
    </fieldset>
  );
}
