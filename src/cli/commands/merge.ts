/**
 * `moe-studio merge CONFIG.yml OUT_DIR [flags]` — first version (full implementation follows).
 */
export async function runMergeCommand(argv: string[]): Promise<number> {
  process.stderr.write(`merge: not implemented yet (${argv.join(' ')})\n`);
  return 2;
}
