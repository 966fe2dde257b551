/**
 * Compose's "Build for export only" (an output the engine cannot open, check.exportOnly): the
 * merge worker streams the HF folder as one zip into a stream this thread saves to disk
 * (saveStream, the Export page's); nothing goes into the library. Progress, cancel and the
 * result share the compose store's `build` with the library build.
 */
import type { MergeBuildProgress } from '../../workers/merge/api.ts';
import { composeSources, useCompose } from './compose.ts';
import { fileSlug, saveStream } from './export.ts';
import { formatBytes } from './format.ts';
import { engineCallback, mergeClient, mergeTokenizerDeadline, workerCrashWatch, workerTransfer } from './workers.ts';

/**
 * Build for export only: an output the engine cannot open (check.exportOnly) built by the merge
 * worker straight into one zip on disk, streamed (saveStream: the save picker where there is one);
 * nothing goes into the library. Called from the click (the picker needs its activation).
 */
export async function composeBuildExport(): Promise<void> {
  const { yaml, layout, title } = useCompose.getState();
  const name = `${fileSlug(title)}.zip`;
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  useCompose.setState({ build: { status: 'running', target: 'export' } });
  const watch = workerCrashWatch('merge'); // a crashed worker never ends its stream
  const saving = saveStream(name, readable, watch.signal);
  const onProgress = engineCallback((progress: MergeBuildProgress) =>
    useCompose.setState((s) => ({ build: { ...s.build!, progress } })),
  );
  // the base's tokenizer encodes the gates' prompts: a call that hangs ends the worker (and so the save)
  const deadline = mergeTokenizerDeadline('a prompt', 'Nothing was saved; change the prompts and try again.');
  const building = Promise.race([
    mergeClient().buildExport(
      { yaml, sources: composeSources(), layout, title, folder: fileSlug(title) },
      workerTransfer(writable),
      onProgress,
      engineCallback(deadline.onCall),
    ),
    watch.crashed,
    deadline.missed,
  ]);
  // A save that fails (disk full, the picker's file refused) stops the merge; a merge that fails aborts the save.
  saving.catch(() => {
    if (!watch.signal.aborted) void mergeClient().cancel();
  });
  try {
    const [result, saved] = await Promise.all([building, saving]);
    useCompose.setState({
      build: {
        status: 'done',
        target: 'export',
        warnings: result.warnings,
        saved: `${name} (${formatBytes(saved.bytes)})${saved.picked ? '' : ', downloaded'}`,
      },
    });
  } catch {
    // The merge's error, unless the merge only stopped because the save failed (not a person's cancel).
    const buildError = await building.then(
      () => undefined,
      (x: unknown) => x as Error,
    );
    const saveError = await saving.then(
      () => undefined,
      (x: unknown) => x as Error,
    );
    const byPerson = useCompose.getState().build?.cancelling;
    const err = (buildError?.name === 'CancelledError' && !byPerson ? saveError : buildError) ?? saveError!;
    useCompose.setState({
      build: {
        status: err.name === 'CancelledError' ? 'cancelled' : 'failed',
        target: 'export',
        error: `${err.name}: ${err.message}`,
      },
    });
  } finally {
    deadline.met();
    watch.stop();
  }
}
