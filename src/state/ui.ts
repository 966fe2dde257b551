/** Which page is open (the hash keeps it across reloads), and the model chosen for chat. */
import { create } from 'zustand';

export type PageId = 'library' | 'compose' | 'chat' | 'routing' | 'export';
export const PAGES: { id: PageId; label: string }[] = [
  { id: 'library', label: 'Library' },
  { id: 'compose', label: 'Compose' },
  { id: 'chat', label: 'Chat' },
  { id: 'routing', label: 'Routing' },
  { id: 'export', label: 'Export' },
];

function pageFromHash(): PageId {
  const h = typeof location === 'undefined' ? '' : location.hash.slice(1);
  return PAGES.find((p) => p.id === h)?.id ?? 'library';
}

export interface UiState {
  page: PageId;
}
export const useUi = create<UiState>()(() => ({ page: pageFromHash() }));

export function uiGo(page: PageId): void {
  useUi.setState({ page });
  if (typeof history !== 'undefined') history.replaceState(null, '', `#${page}`);
}

/** The page the hash names (a bookmark, back/forward, an edited address); App calls it on `hashchange`. */
export function uiFollowHash(): void {
  const page = pageFromHash();
  if (useUi.getState().page !== page) useUi.setState({ page });
}

export function uiReset(): void {
  useUi.setState({ page: 'library' }, true);
}
