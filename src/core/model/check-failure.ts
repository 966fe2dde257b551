/**
 * How a checkModelFiles refusal reads in the Library: apart from check.ts so that saying it does
 * not load the checker (tokenizers, the template engine), which the store imports on first use.
 */
/** What a checkModelFiles failure means, in plain words, by its kind (`name`). */
const PLAIN_REASON: Record<string, string> = {
  FormatError: 'a file is damaged or not in the format its name says',
  ConfigError: 'its config does not describe a model this app runs, or disagrees with its files',
  MissingFileError: 'a file it needs is missing',
  StoreError: 'the browser store could not read it back',
};

/** "(plain reason): the error's own message", for the Library's one-line refusals. */
export function describeCheckFailure(error: Error): string {
  return `(${PLAIN_REASON[error.name] ?? 'it would not load'}): ${error.message}`;
}
