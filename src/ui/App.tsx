import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { chatInit } from '../state/chat.ts';
import { useEngine } from '../state/engine.ts';
import { activeTestHooks } from '../state/kv-instance.ts';
import { libraryInit, useLibrary } from '../state/library.ts';
import { useSettings } from '../state/settings.ts';
import { PAGES, uiFollowHash, uiGo, useUi } from '../state/ui.ts';
import { BackendStatus } from './components/BackendStatus.tsx';
import { ChatPage } from './pages/ChatPage.tsx';
import { ComposePage } from './pages/ComposePage.tsx';
import { ExportPage } from './pages/ExportPage.tsx';
import { LibraryPage } from './pages/LibraryPage.tsx';
import { RoutingPage } from './pages/RoutingPage.tsx';

/** The studio shell: header with the backend in use, page tabs, the current page. */
export function App() {
  const page = useUi((s) => s.page);
  const message = useLibrary(useShallow((s) => s.message));
  const modelTitle = useEngine((s) => s.model?.title);
  const testHooks = activeTestHooks(useSettings((s) => s.simulatedQuotaBytes));
  useEffect(() => {
    void libraryInit();
    void chatInit();
    addEventListener('hashchange', uiFollowHash);
    return () => removeEventListener('hashchange', uiFollowHash);
  }, []);
  return (
    <div className="app">
      <header className="app-header">
        <h1>MoE Studio</h1>
        <nav aria-label="Pages" className="tabs">
          {PAGES.map((p) => (
            <button
              key={p.id}
              type="button"
              aria-current={page === p.id ? 'page' : undefined}
              onClick={() => uiGo(p.id)}
            >
              {p.label}
            </button>
          ))}
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
        {page === 'library' && <LibraryPage />}
        {page === 'compose' && <ComposePage />}
        {page === 'chat' && <ChatPage />}
        {page === 'routing' && <RoutingPage />}
        {page === 'export' && <ExportPage />}
      </main>
    </div>
  );
}
