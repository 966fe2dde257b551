/**
 * Two error tiers (STYLE habit 5).
 *
 * - Bad input (a malformed file, an invalid config, a mismatched model) throws a typed
 *   error whose message is prefixed with the format and names the field, the value and
 *   the limit: `gguf: tensor 'blk.3.ffn_up_exps' offset 123 is not aligned to 32`.
 * - Broken internal invariants use `assert()`: they are our bugs, not the user's.
 *
 * The kind travels in `name`, because comlink keeps only message, name and stack when an
 * error crosses a worker boundary.
 */

export type ErrorKind =
  | 'FormatError'
  | 'ConfigError'
  | 'ContextFullError'
  | 'MissingFileError'
  | 'StoreError'
  | 'HubError'
  | 'BackendError'
  | 'CancelledError';

export class StudioError extends Error {
  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.name = kind;
  }
}

/** A file's bytes do not mean what its format says (safetensors, gguf, llama2.c, json). */
export class FormatError extends StudioError {
  constructor(message: string) {
    super('FormatError', message);
  }
}

/** A config (config.json, mergekit YAML, CLI flags) is invalid or models are incompatible. */
export class ConfigError extends StudioError {
  constructor(message: string) {
    super('ConfigError', message);
  }
}

/**
 * A prompt that does not fit the model's context (prompt and room for the answer): a ConfigError
 * of its own kind, so a caller can offer a choice (stop, or drop the oldest turns) instead of
 * showing a failure.
 */
export class ContextFullError extends ConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'ContextFullError';
  }
}

/**
 * A file the caller asked for is not there: `folder: no file 'name'` for a file of a folder
 * (FileSet.open of every adapter), `path: no such file or directory` for a path argument.
 */
export class MissingFileError extends StudioError {
  constructor(where: string, file?: string) {
    super(
      'MissingFileError',
      file === undefined ? `${where}: no such file or directory` : `${where}: no file '${file}'`,
    );
  }
}

/** IndexedDB / quota / interrupted write. */
export class StoreError extends StudioError {
  constructor(message: string) {
    super('StoreError', message);
  }
}

/** A download failed: HTTP status, wrong content-type, size or sha mismatch. Names the URL. */
export class HubError extends StudioError {
  constructor(message: string) {
    super('HubError', message);
  }
}

/** A compute backend failed: no adapter, lost device, shader compile error. */
export class BackendError extends StudioError {
  constructor(message: string) {
    super('BackendError', message);
  }
}

/** The user cancelled (merge, download, generation). */
export class CancelledError extends StudioError {
  constructor(message = 'cancelled') {
    super('CancelledError', message);
  }
}

const ERROR_CLASSES: Record<ErrorKind, abstract new (...args: never[]) => StudioError> = {
  FormatError,
  ConfigError,
  ContextFullError,
  MissingFileError,
  StoreError,
  HubError,
  BackendError,
  CancelledError,
};

/**
 * An error that crossed comlink is a plain Error whose `name` says its kind: this gives it
 * back its class (so `instanceof ConfigError` holds in the page), keeping message and stack.
 * Errors of other names are returned as they are.
 */
export function restoreErrorKind(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof StudioError) return error;
  const kind = ERROR_CLASSES[error.name as ErrorKind];
  if (kind) Object.setPrototypeOf(error, kind.prototype);
  return error;
}

export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

/** Internal invariant. Never use for user input: throw FormatError/ConfigError instead. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
