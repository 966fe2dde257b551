/**
 * The app's one model-store KvStore, built from settings (a simulated quota wraps it) and the
 * page URL (`?simulateQuota=<bytes>` for e2e). Recreated when the settings change.
 *
 * TEST HOOK: `?simulateQuota=` works in production builds too (e2e runs the built app), so the
 * header always shows a banner while it is active (activeTestHooks → App.tsx); it can never
 * silently limit a real user's storage.
 */
import { idbKvStore, quotaLimitedKvStore, type KvStore } from '../core/store/kv.ts';
import { modelStoreEstimate, type StorageEstimate } from '../core/store/store-file-set.ts';
import { useSettings } from './settings.ts';

let cached: { key: string; kv: KvStore } | undefined;

export function urlQuotaBytes(): number | undefined {
  const raw = typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('simulateQuota');
  return raw && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

export function appKv(): KvStore {
  const quota = urlQuotaBytes() ?? useSettings.getState().simulatedQuotaBytes;
  const key = String(quota ?? 'none');
  if (cached?.key !== key)
    cached = { key, kv: quota === undefined ? idbKvStore() : quotaLimitedKvStore(idbKvStore(), quota) };
  return cached.kv;
}

export function appKvReset(): void {
  cached = undefined;
}

/**
 * TEST HOOK `?simulateFree=<bytes>`: navigator.storage.estimate() is answered as "this many bytes
 * free" (usage 0, quota = bytes), so e2e can see a write refused before it starts. Writes are not
 * limited by it (that is `?simulateQuota`). Shown in the banner like the others.
 */
export function urlFreeBytes(): number | undefined {
  const raw = typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('simulateFree');
  return raw && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/** What the browser says this origin may still store (the Library's storage card and the checks before a write). */
export async function appStorageEstimate(): Promise<StorageEstimate | undefined> {
  const free = urlFreeBytes();
  if (free !== undefined) return { usage: 0, quota: free };
  return modelStoreEstimate().catch(() => undefined);
}

/** `?chunkBytes=<n>` (e2e: small chunks so a download can be resumed mid-file); else the default. */
export function urlChunkBytes(): number | undefined {
  const raw = typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('chunkBytes');
  return raw && /^\d+$/.test(raw) && Number(raw) >= 1024 ? Number(raw) : undefined;
}

/**
 * TEST HOOK `?crashPage=<page id>`: that page throws while it renders, until its "Reset this page"
 * is pressed (e2e of the per-page error boundary, App.tsx). Shown in the banner like the others.
 */
export function urlCrashPage(): string | undefined {
  return (typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('crashPage')) ?? undefined;
}

/** Test hooks in effect (URL or settings), as user-facing text for the header banner; [] normally. */
export function activeTestHooks(settingsQuota = useSettings.getState().simulatedQuotaBytes): string[] {
  const out: string[] = [];
  const quota = urlQuotaBytes() ?? settingsQuota;
  if (quota !== undefined)
    out.push(`simulated quota: ${quota} bytes (model store writes beyond it fail like a full disk)`);
  const free = urlFreeBytes();
  if (free !== undefined) out.push(`simulated free storage: ${free} bytes (the browser's estimate)`);
  const chunk = urlChunkBytes();
  if (chunk !== undefined) out.push(`store chunk size: ${chunk} bytes`);
  const crash = urlCrashPage();
  if (crash !== undefined) out.push(`page "${crash}" throws while rendering until it is reset`);
  return out;
}
