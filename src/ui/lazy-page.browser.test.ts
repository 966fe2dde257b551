/**
 * PageView in a real React root in Chromium: a preloaded chunk's page is in the first commit
 * (no fallback, no Suspense hold-back), a chunk still loading shows the fallback and then the
 * page, and a chunk that fails reaches the error boundary above it.
 */
import { Component, createElement, type ReactNode } from 'react';
import { flushSync } from 'react-dom';
import { createRoot } from 'react-dom/client';
import { afterEach, describe, expect, it } from 'vitest';
import { PageChunk, PageView } from './lazy-page.ts';

class Boundary extends Component<{ children: ReactNode }, { error?: string }> {
  override state: { error?: string } = {};
  static getDerivedStateFromError(error: Error) {
    return { error: error.message };
  }
  override render() {
    return this.state.error ? createElement('p', null, `boundary: ${this.state.error}`) : this.props.children;
  }
}

const Page = () => createElement('p', null, 'the page');
const container = document.body.appendChild(document.createElement('div'));
let root = createRoot(container);
afterEach(() => {
  root.unmount();
  root = createRoot(container);
});

function show(chunk: PageChunk) {
  flushSync(() => root.render(createElement(Boundary, null, createElement(PageView, { chunk, fallback: 'opening…' }))));
}

describe('PageView', () => {
  it("shows a preloaded chunk's page in its first commit", async () => {
    const chunk = new PageChunk(async () => Page);
    await chunk.preload();
    show(chunk);
    expect(container.textContent).toBe('the page');
  });

  it('shows the fallback while the chunk loads, then the page', async () => {
    let arrive!: () => void;
    const chunk = new PageChunk(() => new Promise((resolve) => (arrive = () => resolve(Page))));
    show(chunk);
    expect(container.textContent).toBe('opening…');
    arrive();
    await expect.poll(() => container.textContent).toBe('the page');
  });

  it('a chunk that fails to load reaches the error boundary; preload never rejects; a later visit tries again', async () => {
    let tries = 0;
    const chunk = new PageChunk(async () => {
      tries++;
      throw new Error('chunk gone');
    });
    await chunk.preload();
    show(chunk);
    await expect.poll(() => container.textContent).toBe('boundary: chunk gone');
    expect(tries).toBe(2);
  });
});
