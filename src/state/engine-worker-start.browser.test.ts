/**
 * The engine worker's head start with real Workers: the slot gets the worker started early,
 * once; a head-started worker whose script failed before anyone listened is replaced, not
 * handed over (its error would never reach the slot's crash listeners).
 */
import { describe, expect, it } from 'vitest';
import { engineWorkerHeadStart, takeEngineWorker } from './engine-worker-start.ts';

const scriptWorker = (source: string) => () =>
  new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));

describe('engine worker head start', () => {
  it('hands the head-started worker over once, then starts fresh ones', () => {
    const started: Worker[] = [];
    const start = () => {
      const worker = scriptWorker('onmessage = (e) => postMessage(e.data);')();
      started.push(worker);
      return worker;
    };
    engineWorkerHeadStart(start);
    engineWorkerHeadStart(start); // a second call starts nothing
    expect(started).toHaveLength(1);
    expect(takeEngineWorker(start)).toBe(started[0]);
    const next = takeEngineWorker(start);
    expect(next).toBe(started[1]);
    for (const worker of started) worker.terminate();
  });

  it('replaces a head-started worker that failed before it was taken', async () => {
    const failing = scriptWorker('throw new Error("no such script")')();
    engineWorkerHeadStart(() => failing);
    // listened to after the head start's own listener: a microtask checkpoint runs between two listeners
    await new Promise((resolve) => failing.addEventListener('error', resolve));
    const fresh = scriptWorker('onmessage = (e) => postMessage(e.data * 2);');
    const taken = takeEngineWorker(fresh);
    expect(taken).not.toBe(failing);
    const answer = new Promise((resolve) => taken.addEventListener('message', (e) => resolve(e.data)));
    taken.postMessage(21);
    expect(await answer).toBe(42);
    taken.terminate();
  });
});
