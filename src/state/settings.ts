/**
 * Settings: hub base URL, backend choice, import quantization, a simulated storage quota
 * (tests and demos of the quota path), the model to preload. Persisted in localStorage with schemaVersion.
 */
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import { DEFAULT_HUB_BASE_URL } from '../core/hub/hub.ts';
import type { ImportQuant } from '../core/store/manifest.ts';
import type { BackendChoice, ModelRef } from '../../workers/engine/api.ts';

export const SETTINGS_SCHEMA_VERSION = 1;

export interface SettingsState {
  hubBaseUrl: string;
  backendChoice: BackendChoice;
  importQuant: ImportQuant;
  /** Bytes; writes beyond it fail like a full disk. undefined = the browser's real quota. */
  simulatedQuotaBytes?: number;
  /** The small URL model (the zoo) chatted with last: the engine preloads it at the next start. */
  preloadModel?: ModelRef;
}

export const initialSettings: SettingsState = {
  hubBaseUrl: DEFAULT_HUB_BASE_URL,
  backendChoice: 'auto',
  importQuant: 'keep',
};

export const useSettings = create<SettingsState>()(
  persist(() => ({ ...initialSettings }), {
    name: 'moe-studio-settings',
    version: SETTINGS_SCHEMA_VERSION,
    storage: createJSONStorage(() => localStorage),
    migrate: (persisted) => ({ ...initialSettings, ...(persisted as Partial<SettingsState>) }),
  }),
);

export function settingsUpdate(patch: Partial<SettingsState>): void {
  useSettings.setState(patch);
}

export function settingsReset(): void {
  useSettings.setState({ ...initialSettings }, true);
}
