export * from './kv.ts';
export * from './manifest.ts';
export * from './model-store.ts';
export * from './store-file-set.ts';
export * from './import-files.ts';
export * from './commit-checked.ts';
