import { type RefObject, useCallback, useEffect, useRef, useState } from 'react';

/** Within this many px of the end counts as "at the newest message" (sub-pixel scroll positions, borders). */
const AT_END_PX = 24;

/**
 * Keeps a scrolling list at its newest content while the person is there, and leaves it where it
 * is once they scroll up. Content arrives both through React and through direct DOM appends
 * (LiveTokenText), so a MutationObserver watches the list. "Was at the end" is judged against the
 * height before the growth, from the live scrollTop, so a scroll up during streaming always wins.
 * Returns whether newer content lies below (show "Jump to latest") and a jump function.
 */
export function useFollowLatest(ref: RefObject<HTMLElement | null>): { behind: boolean; jumpToLatest: () => void } {
  const [behind, setBehind] = useState(false);
  const lastHeight = useRef(0);
  const jumpToLatest = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    lastHeight.current = el.scrollHeight;
    setBehind(false);
  }, [ref]);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const atEnd = (height: number) => el.scrollTop + el.clientHeight >= height - AT_END_PX;
    const onMutate = () => {
      if (atEnd(lastHeight.current)) {
        el.scrollTop = el.scrollHeight;
        setBehind(false);
      } else setBehind(true);
      lastHeight.current = el.scrollHeight;
    };
    const onScroll = () => {
      if (atEnd(el.scrollHeight)) setBehind(false);
      else if (el.scrollHeight > el.clientHeight) setBehind(true);
    };
    const observer = new MutationObserver(onMutate);
    observer.observe(el, { childList: true, subtree: true, characterData: true });
    el.addEventListener('scroll', onScroll, { passive: true });
    jumpToLatest(); // opening the page shows the newest message
    return () => {
      observer.disconnect();
      el.removeEventListener('scroll', onScroll);
    };
  }, [ref, jumpToLatest]);
  return { behind, jumpToLatest };
}
