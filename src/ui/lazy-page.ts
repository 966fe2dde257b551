/**
 * Pages in their own chunks, fetched ahead of their first visit (`preload`) and shown the
 * moment they have loaded. Not React.lazy + Suspense: React 19 holds a revealed Suspense
 * fallback for ~300 ms, so "Chat with" showed "Opening Chat…" for 250–370 ms even when the
 * chunk arrived a few ms later (bench/ttft.ts). Here the fallback is plain state: the page
 * renders on the next commit after its chunk loads, and at once when `preload` has already
 * settled. A chunk that fails to load throws in render, into the page's error boundary.
 */
import { type ComponentType, createElement, type ReactNode, useEffect, useState } from 'react';

export class PageChunk {
  private loaded?: ComponentType;
  private loading?: Promise<ComponentType>;

  constructor(private readonly load: () => Promise<ComponentType>) {}

  /** A page already in the main bundle (the Library). */
  static of(page: ComponentType): PageChunk {
    const chunk = new PageChunk(async () => page);
    chunk.loaded = page;
    return chunk;
  }

  get page(): ComponentType | undefined {
    return this.loaded;
  }

  /** Loads the chunk once; a failure is not kept, so the next visit tries again. */
  start(): Promise<ComponentType> {
    this.loading ??= this.load().then(
      (page) => (this.loaded = page),
      (error: unknown) => {
        this.loading = undefined;
        throw error;
      },
    );
    return this.loading;
  }

  /** Fetches and runs the page's chunk now; never rejects (a failed chunk fails at the visit). */
  async preload(): Promise<void> {
    await this.start().catch(() => {});
  }
}

/** The chunk's page, or `fallback` until it has loaded. */
export function PageView({ chunk, fallback }: { chunk: PageChunk; fallback: ReactNode }) {
  const [, setShown] = useState(0); // bumped once the chunk has loaded: renders the page
  const [failure, setFailure] = useState<{ error: unknown }>();
  useEffect(() => {
    if (chunk.page) return;
    let mounted = true;
    chunk.start().then(
      () => mounted && setShown(1),
      (error: unknown) => mounted && setFailure({ error }),
    );
    return () => {
      mounted = false;
    };
  }, [chunk]);
  if (failure) throw failure.error;
  return chunk.page ? createElement(chunk.page) : fallback;
}
