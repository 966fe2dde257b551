/**
 * Flag parsing for the CLI commands: node:util parseArgs (strict) plus typed number/enum
 * readers whose errors name the flag. A UsageError exits with code 2, other errors with 1.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

/** Strict parse: unknown flags and missing values become a UsageError naming the command. */
export function parseFlags(
  command: string,
  argv: string[],
  options: FlagSpec,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.split('\n')[0]}`);
  }
}

export function numberFlag(
  flag: string,
  value: string | boolean | undefined,
  check: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  const bad =
    typeof value !== 'string' ||
    value.trim() === '' ||
    !Number.isFinite(number) ||
    (check.integer && !Number.isInteger(number)) ||
    (check.min !== undefined && number < check.min) ||
    (check.max !== undefined && number > check.max);
  if (bad) {
    const range = [check.min !== undefined ? `≥ ${check.min}` : '', check.max !== undefined ? `≤ ${check.max}` : '']
      .filter(Boolean)
      .join(' and ');
    throw new UsageError(
      `--${flag} must be ${check.integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

export function enumFlag<T extends string>(
  flag: string,
  value: string | boolean | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function stringFlag(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** "1,2,3" → [1, 2, 3] (non-negative integers). */
export function idListFlag(flag: string, value: string | boolean | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : [];
  const ids = parts.map(Number);
  if (parts.length === 0 || parts.some((p) => p === '') || ids.some((id) => !Number.isInteger(id) || id < 0)) {
    throw new UsageError(`--${flag} must be a comma-separated list of token ids, got ${JSON.stringify(value)}`);
  }
  return ids;
}

export function onePositional(command: string, positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      `${command}: expected exactly one ${what}, got ${positionals.length ? positionals.map((p) => JSON.stringify(p)).join(' ') : 'none'}`,
    );
  }
  return positionals[0]!;
}
