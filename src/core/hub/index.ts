export * from './hub.ts';
export * from './download-to-store.ts';
export * from './progress.ts';
export * from './sha256.ts';
export * from './fetch-file-set.ts';
