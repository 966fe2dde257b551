export * from './hub.ts';
export * from './download-to-store.ts';
export * from '../io/progress.ts';
export * from '../io/sha256.ts';
export * from './fetch-file-set.ts';
export * from './hub-preview.ts';
