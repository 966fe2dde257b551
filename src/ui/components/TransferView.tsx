import type { Transfer } from '../../state/library.ts';
import { ProgressBar } from './ProgressBar.tsx';

/** Aggregate and per-file progress of one download/import, with pause and resume. */
export function TransferView({
  transfer,
  onPause,
  onResume,
}: {
  transfer: Transfer;
  onPause: () => void;
  onResume: () => void;
}) {
  return (
    <div className="transfer" data-testid="transfer" data-status={transfer.status}>
      <ProgressBar
        label={`${transfer.title} — ${transfer.status === 'running' ? transfer.phase : transfer.status}`}
        done={transfer.totalDone}
        total={transfer.totalBytes}
      />
      <ul className="file-progress">
        {Object.entries(transfer.files).map(([name, f]) => (
          <li key={name}>
            <ProgressBar
              label={name}
              done={f.done}
              total={f.total}
              note={f.fromCache ? 'resumed from the store' : undefined}
            />
          </li>
        ))}
      </ul>
      {transfer.error && <p role="alert">{transfer.error}</p>}
      <div className="row">
        {transfer.status === 'running' && (
          <button type="button" onClick={onPause}>
            Pause
          </button>
        )}
        {(transfer.status === 'paused' || transfer.status === 'failed') && (
          <button type="button" onClick={onResume}>
            Resume
          </button>
        )}
      </div>
    </div>
  );
}
