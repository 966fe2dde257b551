import { formatBytes } from '../format.ts';

/** An accessible progress bar with MB text ("12.0 MB of 40.0 MB"). */
export function ProgressBar({
  label,
  done,
  total,
  note,
}: {
  label: string;
  done: number;
  total: number;
  note?: string;
}) {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  return (
    <div className="progress">
      <div className="progress-label">
        <span>{label}</span>
        <span>
          {formatBytes(done)} of {formatBytes(total)}
          {note ? ` · ${note}` : ''}
        </span>
      </div>
      <div
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(fraction * 100)}
        className="progress-track"
      >
        <div className="progress-fill" style={{ width: `${fraction * 100}%` }} />
      </div>
    </div>
  );
}
