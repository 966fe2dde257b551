import { useEffect, useState, type DragEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { engineLoad } from '../../state/engine.ts';
import {
  hubDownload,
  hubLookup,
  libraryClearZooFiles,
  libraryImportFolder,
  libraryRefreshZooFiles,
  pendingResume,
  storagePersist,
  transferPause,
  useLibrary,
  type HubListing,
} from '../../state/library.ts';
import { directoryHandleEntries, fileListToEntries, filesToFileSet } from '../../state/local-files.ts';
import { settingsUpdate, useSettings } from '../../state/settings.ts';
import { uiGo } from '../../state/ui.ts';
import { zooFolderUrl, type ZooModel } from '../../state/zoo.ts';
import { FolderUp, MessageSquare } from 'lucide-react';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { StoredSection } from '../components/StoredModels.tsx';
import { TransferView } from '../components/TransferView.tsx';
import { formatBytes, plural } from '../format.ts';
import { ModelFits, shapeFacts } from '../components/ModelFits.tsx';

export async function openZooInChat(m: ZooModel): Promise<void> {
  uiGo('chat');
  await engineLoad({ kind: 'url', id: m.id, title: m.title, baseUrl: zooFolderUrl(m.path), files: m.files });
}

function ZooSection() {
  const { zoo, zooError } = useLibrary(useShallow((s) => ({ zoo: s.zoo, zooError: s.zooError })));
  return (
    <section aria-labelledby="zoo-h" className="card">
      <h2 id="zoo-h">
        Demo zoo <small>(bundled, works offline)</small>
      </h2>
      {zooError && <p role="alert">The demo zoo could not be read: {zooError}</p>}
      {!zoo && !zooError && <p>Reading the zoo…</p>}
      {zoo && (
        <ul className="model-list" data-testid="zoo-list">
          {zoo.models.map((m) => (
            <li key={m.id} data-testid={`zoo-model-${m.path}`}>
              <div>
                <strong>{m.title}</strong>{' '}
                <span className="tag">
                  {m.role}
                  {m.domain ? ` · ${m.domain}` : ''}
                </span>{' '}
                <span className="muted">{formatBytes(m.files.reduce((s, f) => s + f.size, 0))}</span>
              </div>
              <div className="muted">{m.description}</div>
              <button type="button" onClick={() => void openZooInChat(m)}>
                <MessageSquare className="icon" aria-hidden="true" /> Chat with {m.title}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** What config.json says before the download: the model, how it will be stored, where it fits; or why it cannot be used. */
function HubPreview({ listing }: { listing: HubListing }) {
  const importQuant = useSettings((s) => s.importQuant);
  if (listing.refusal)
    return (
      <p role="alert" className="banner banner-error" data-testid="hub-refusal">
        The studio cannot use this model, so it is not downloaded: {listing.refusal}
      </p>
    );
  const preview = listing.preview;
  if (!preview) return null;
  const { spec, params } = preview;
  const dtype = importQuant === 'keep' ? preview.dtype : importQuant;
  const facts = [...shapeFacts(spec.arch, params, spec.moe?.experts, spec.moe?.expertsPerToken), `stored as ${dtype}`];
  return (
    <div data-testid="hub-preview">
      <div className="muted small">{facts.join(' · ')}</div>
      <ModelFits params={params} dtype={dtype} testId="hub-fits" />
    </div>
  );
}

function HubSection() {
  const { hubListing, hubBusy, transfers } = useLibrary(
    useShallow((s) => ({ hubListing: s.hubListing, hubBusy: s.hubBusy, transfers: s.transfers })),
  );
  const hubBaseUrl = useSettings((s) => s.hubBaseUrl);
  const [repo, setRepo] = useState('');
  const total = hubListing?.files.reduce((s, f) => s + f.size, 0) ?? 0;
  return (
    <section aria-labelledby="hub-h" className="card">
      <h2 id="hub-h">Add from a hub</h2>
      <form
        className="row wrap"
        onSubmit={(e) => {
          e.preventDefault();
          void hubLookup(repo);
        }}
      >
        <label>
          Repository{' '}
          <input
            name="repo"
            value={repo}
            onChange={(e) => setRepo(e.target.value)}
            placeholder="org/name or URL"
            required
          />
        </label>
        <label>
          Hub base URL{' '}
          <input name="hub" value={hubBaseUrl} onChange={(e) => settingsUpdate({ hubBaseUrl: e.target.value })} />
        </label>
        <button type="submit" disabled={hubBusy}>
          {hubBusy ? 'Looking up…' : 'Look up files'}
        </button>
      </form>
      {hubListing && (
        <div data-testid="hub-listing">
          <table>
            <caption>
              {hubListing.ref.repo}@{hubListing.ref.rev}: {plural(hubListing.files.length, 'file')},{' '}
              {formatBytes(total)}
            </caption>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Size</th>
                <th scope="col">sha256</th>
              </tr>
            </thead>
            <tbody>
              {hubListing.files.map((f) => (
                <tr key={f.name}>
                  <td>{f.name}</td>
                  <td>{formatBytes(f.size)}</td>
                  <td className="mono">{f.sha256 ? `${f.sha256.slice(0, 12)}…` : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <HubPreview listing={hubListing} />
          <button type="button" disabled={!!hubListing.refusal} onClick={() => void hubDownload(hubListing)}>
            Download {formatBytes(total)}
          </button>
        </div>
      )}
      {Object.values(transfers).map((t) => (
        <TransferView
          key={t.id}
          transfer={t}
          onPause={() => transferPause(t.id)}
          onResume={() => {
            const p = useLibrary.getState().pending.find((x) => x.id === t.id);
            if (p) void pendingResume(p);
          }}
        />
      ))}
    </section>
  );
}

async function importDropped(e: DragEvent) {
  e.preventDefault();
  const item = e.dataTransfer.items[0] as DataTransferItem & {
    getAsFileSystemHandle?: () => Promise<FileSystemHandle | null>;
  };
  const handle = await item?.getAsFileSystemHandle?.();
  if (handle?.kind === 'directory') {
    const entries = await directoryHandleEntries(handle as FileSystemDirectoryHandle);
    const { fileSet, totalBytes } = filesToFileSet(entries, handle.name);
    return libraryImportFolder(handle.name, fileSet, totalBytes);
  }
  const { folder, entries } = fileListToEntries(e.dataTransfer.files);
  const { fileSet, totalBytes } = filesToFileSet(entries, folder);
  return libraryImportFolder(folder, fileSet, totalBytes);
}

function LocalSection() {
  const importQuant = useSettings((s) => s.importQuant);
  const [over, setOver] = useState(false);
  const pickDirectory = async () => {
    const picker = (window as Window & { showDirectoryPicker?: () => Promise<FileSystemDirectoryHandle> })
      .showDirectoryPicker;
    if (!picker) return;
    const dir = await picker().catch(() => undefined);
    if (!dir) return;
    const { fileSet, totalBytes } = filesToFileSet(await directoryHandleEntries(dir), dir.name);
    await libraryImportFolder(dir.name, fileSet, totalBytes);
  };
  return (
    <section aria-labelledby="local-h" className="card">
      <h2 id="local-h">Add a local folder</h2>
      <div className="row wrap">
        {'showDirectoryPicker' in window && (
          <button type="button" onClick={() => void pickDirectory()}>
            Choose folder…
          </button>
        )}
        <label className="file-button">
          <FolderUp className="icon" aria-hidden="true" /> Folder (upload){' '}
          <input
            type="file"
            data-testid="folder-input"
            {...{ webkitdirectory: '', directory: '' }}
            multiple
            onChange={(e) => {
              if (!e.target.files?.length) return;
              const { folder, entries } = fileListToEntries(e.target.files);
              const { fileSet, totalBytes } = filesToFileSet(entries, folder);
              void libraryImportFolder(folder, fileSet, totalBytes);
            }}
          />
        </label>
        <label>
          Store weights as{' '}
          <select
            value={importQuant}
            onChange={(e) => settingsUpdate({ importQuant: e.target.value as typeof importQuant })}
          >
            <option value="keep">as they are</option>
            <option value="f16">f16</option>
            <option value="q8_0">q8_0</option>
            <option value="q4_0">q4_0</option>
          </select>
        </label>
      </div>
      <p className="muted small">
        f16, q8_0 and q4_0 imports are stored as one GGUF beside the tokenizer files: they chat and export, but merges
        need the original safetensors.
      </p>
      <section
        className={`dropzone${over ? ' over' : ''}`}
        aria-label="Drop a model folder here"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          setOver(false);
          void importDropped(e);
        }}
      >
        Drop an HF model folder here (config.json, *.safetensors, tokenizer.json)
      </section>
    </section>
  );
}

/**
 * The store's own count is the figure shown against the quota: navigator.storage.estimate()
 * lags behind recent writes (it said "0 B" beside 37.8 MB of models), so it is only a labelled aside.
 */
function StorageSection() {
  const { estimate, stored, zooFiles } = useLibrary(
    useShallow((s) => ({ estimate: s.estimate, stored: s.stored, zooFiles: s.zooFiles })),
  );
  // Each visit: the engine worker keeps zoo files as they are chatted with, on other pages.
  useEffect(() => void libraryRefreshZooFiles(), []);
  const storedBytes = stored.reduce((s, m) => s + m.totalBytes, 0);
  return (
    <section aria-labelledby="storage-h" className="card">
      <h2 id="storage-h">Storage</h2>
      {estimate?.quota ? (
        <ProgressBar
          label="Models stored"
          done={storedBytes}
          total={estimate.quota}
          note={estimate.persisted ? 'persistent' : 'may be evicted'}
        />
      ) : (
        <p className="muted">This browser does not report its storage quota.</p>
      )}
      <p className="muted" data-testid="storage-summary">
        {formatBytes(storedBytes)} in {plural(stored.length, 'model')}, counted by the store.
        {estimate?.usage !== undefined &&
          ` The browser's own estimate, which can lag behind recent imports: ${formatBytes(estimate.usage)} used.`}
      </p>
      {zooFiles && (
        <p className="muted" data-testid="zoo-files">
          {zooFiles.files
            ? `Demo zoo files kept for a fast start: ${plural(zooFiles.files, 'file')}, ${formatBytes(zooFiles.bytes)}.`
            : 'No demo zoo files are kept: each zoo model is fetched when first chatted with.'}
        </p>
      )}
      <div className="row wrap">
        <button type="button" onClick={() => void storagePersist()} disabled={estimate?.persisted}>
          Request persistent storage
        </button>
        {zooFiles && (
          <button type="button" onClick={() => void libraryClearZooFiles()} disabled={!zooFiles.files}>
            Clear kept zoo files
          </button>
        )}
      </div>
    </section>
  );
}

export function LibraryPage() {
  return (
    <div className="page library-page" data-testid="page-library">
      <ZooSection />
      <StoredSection />
      <HubSection />
      <LocalSection />
      <StorageSection />
    </div>
  );
}
