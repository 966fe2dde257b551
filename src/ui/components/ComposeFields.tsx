import { Plus, X } from 'lucide-react';
import type { LibraryRef } from '../../state/library-refs.ts';
import { IconButton } from './IconButton.tsx';

/** A model of the library by its YAML name; a name the library lacks stays selectable and says so. */
export function ModelSelect({
  label,
  value,
  refs,
  onChange,
}: {
  label: string;
  value: string;
  refs: LibraryRef[];
  onChange: (v: string) => void;
}) {
  const known = refs.some((r) => r.name === value);
  return (
    <label>
      {label}{' '}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">— choose —</option>
        {!known && value && <option value={value}>{value} (not in the library)</option>}
        {refs.map((r) => (
          <option key={r.name} value={r.name}>
            {r.title}
            {r.domain ? ` (${r.domain})` : ''} — {r.name}
          </option>
        ))}
      </select>
    </label>
  );
}

/** One textarea per prompt: prompts may span lines (code), so lines never split them. */
export function PromptList({
  label,
  prompts,
  onChange,
}: {
  label: string;
  prompts: string[];
  onChange: (p: string[]) => void;
}) {
  return (
    <div className="prompt-list">
      {prompts.map((p, i) => (
        <div key={i} className="row">
          <label className="block grow">
            {label} {i + 1}
            <textarea
              rows={Math.min(4, p.split('\n').length)}
              value={p}
              onChange={(e) => onChange(prompts.map((x, k) => (k === i ? e.target.value : x)))}
            />
          </label>
          <IconButton label={`Remove ${label} ${i + 1}`} onPress={() => onChange(prompts.filter((_, k) => k !== i))}>
            <X className="icon" aria-hidden="true" />
          </IconButton>
        </div>
      ))}
      <button type="button" className="secondary" onClick={() => onChange([...prompts, ''])}>
        <Plus className="icon" aria-hidden="true" /> Add {label.replace(/^Expert \d+ /, '')}
      </button>
    </div>
  );
}
