import { Blocks, Download, Library, type LucideIcon, MessageSquare, Waypoints } from 'lucide-react';
import { useEffect, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { markPhase } from '../core/io/marks.ts';
import { chatInit, chatReset } from '../state/chat.ts';
import { useEngine } from '../state/engine.ts';
import { activeTestHooks, urlCrashPage } from '../state/kv-instance.ts';
import { libraryInit, libraryReset, useLibrary } from '../state/library.ts';
import { useSettings } from '../state/settings.ts';
import { PAGES, type PageId, uiFollowHash, uiGo, useUi } from '../state/ui.ts';
import { BackendStatus } from './components/BackendStatus.tsx';
import { PageBoundary } from './components/PageBoundary.tsx';
import { PageChunk, PageView } from './lazy-page.ts';
import { LibraryPage } from './pages/LibraryPage.tsx';

// The Library is the first page; the others load on first visit (their own chunks: heatmap,
// compose form, chat, export), so the first load parses less. The chunks are local files of the
// build: no network, and dev/preview serve them like the main one.
const ComposePage = new PageChunk(async () => (await import('./pages/ComposePage.tsx')).ComposePage);
const ChatPage = new PageChunk(async () => (await import('./pages/ChatPage.tsx')).ChatPage);
const RoutingPage = new PageChunk(async () => (await import('./pages/RoutingPage.tsx')).RoutingPage);
const ExportPage = new PageChunk(async () => (await import('./pages/ExportPage.tsx')).ExportPage);

/** Each page, and what "Reset this page" (its error boundary) resets. */
const PAGE_VIEWS = {
  library: {
    chunk: PageChunk.of(LibraryPage),
    resetNote: 'reads the model list from storage again; stored models are kept',
    reset: () => {
      libraryReset();
      void libraryInit();
    },
  },
  // The other pages' stores load with their pages (their modules, e.g. the YAML parser, are not
  // in the Library's first load); a reset loads the module if the page has not.
  compose: {
    chunk: ComposePage,
    resetNote: 'clears the draft: the form and its YAML',
    reset: async () => (await import('../state/compose.ts')).composeReset(),
  },
  chat: {
    chunk: ChatPage,
    resetNote: 'reads saved conversations again and restores the default sampling',
    reset: () => {
      chatReset();
      void chatInit();
    },
  },
  routing: {
    chunk: RoutingPage,
    resetNote: 'clears traces A and B',
    reset: async () => (await import('../state/routing.ts')).routingReset(),
  },
  export: {
    chunk: ExportPage,
    resetNote: 'clears the export message',
    reset: async () => (await import('../state/export.ts')).exportReset(),
  },
} satisfies Record<PageId, { chunk: PageChunk; resetNote: string; reset: () => void | Promise<void> }>;

/** Each page's icon in the navigation (beside its word, never instead of it). */
const PAGE_ICONS = {
  library: Library,
  compose: Blocks,
  chat: MessageSquare,
  routing: Waypoints,
  export: Download,
} satisfies Record<PageId, LucideIcon>;

/** Pages whose `?crashPage=` test hook was reset (kv-instance.ts urlCrashPage); each throws only until then. */
const crashHookReset = new Set<PageId>();
function CrashTestHook({ page }: { page: PageId }) {
  if (urlCrashPage() === page && !crashHookReset.has(page))
    throw new Error(`test hook ?crashPage=${page}: this page throws until it is reset`);
  return null;
}

/** The studio shell: header with the backend in use, page tabs, the current page under its heading. */
export function App() {
  const page = useUi((s) => s.page);
  const message = useLibrary(useShallow((s) => s.message));
  const modelTitle = useEngine((s) => s.model?.title);
  const testHooks = activeTestHooks(useSettings((s) => s.simulatedQuotaBytes));
  const heading = useRef<HTMLHeadingElement>(null);
  const shownPage = useRef(page);
  useEffect(() => {
    markPhase('moe:rendered');
    // Chat is where "Chat with" goes: its chunk is fetched now, so the first answer does not wait on it.
    void ChatPage.preload();
    void libraryInit();
    void chatInit();
    addEventListener('hashchange', uiFollowHash);
    return () => removeEventListener('hashchange', uiFollowHash);
  }, []);
  useEffect(() => {
    // After navigation (not on the first load) focus goes to the new page's heading, so a
    // keyboard or screen-reader user starts there instead of on the tab they pressed.
    if (shownPage.current !== page) heading.current?.focus();
    shownPage.current = page;
  }, [page]);
  const { chunk, reset, resetNote } = PAGE_VIEWS[page];
  const label = PAGES.find((p) => p.id === page)?.label ?? page;
  const opening = (
    <p className="muted" role="status">
      Opening {label}…
    </p>
  );
  return (
    <div className="app">
      {/* A button, not an anchor: the hash names the page, so #page-heading would leave it. */}
      <button type="button" className="skip-link" onClick={() => heading.current?.focus()}>
        Skip to content
      </button>
      <header className="app-header">
        <h1>MoE Studio</h1>
        <nav aria-label="Pages" className="tabs">
          {PAGES.map((p) => {
            const Icon = PAGE_ICONS[p.id];
            return (
              <button
                key={p.id}
                type="button"
                aria-current={page === p.id ? 'page' : undefined}
                onClick={() => uiGo(p.id)}
              >
                <Icon className="icon" aria-hidden="true" /> {p.label}
              </button>
            );
          })}
        </nav>
        <div className="header-status">
          <span className="loaded-model" data-testid="loaded-model">
            {modelTitle ? `Model: ${modelTitle}` : 'No model loaded'}
          </span>
          <BackendStatus />
        </div>
      </header>
      {testHooks.length > 0 && (
        <div role="status" className="banner banner-warning" data-testid="test-hook-banner">
          Test hook active — {testHooks.join('; ')}. Remove the URL parameter (or the setting) to turn it off.
        </div>
      )}
      {message && (
        <div
          role={message.kind === 'error' ? 'alert' : 'status'}
          className={`banner banner-${message.kind}`}
          data-testid="library-message"
        >
          {message.text}
        </div>
      )}
      <main>
        <h2 id="page-heading" className="page-heading" tabIndex={-1} ref={heading}>
          {label}
        </h2>
        <PageBoundary
          key={page}
          label={label}
          resetNote={resetNote}
          onReset={() => {
            crashHookReset.add(page);
            return reset();
          }}
        >
          <CrashTestHook page={page} />
          <PageView chunk={chunk} fallback={opening} />
        </PageBoundary>
      </main>
    </div>
  );
}
