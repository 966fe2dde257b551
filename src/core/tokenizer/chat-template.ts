/**
 * Chat templates are untrusted code from a model folder (tokenizer_config.json's
 * chat_template, chat_template.jinja, a GGUF's tokenizer.chat_template). They run through
 * @huggingface/jinja, as transformers.js does, but with limits a template cannot escape:
 *
 *   - compile and render errors (the library throws bare SyntaxError/TypeError/Error) become
 *     a ConfigError naming the file the template came from;
 *   - every node the interpreter evaluates counts one step, capped at maxSteps (nested loops
 *     hang otherwise);
 *   - every value the interpreter produces is checked: a string longer than maxOutputChars
 *     (`{% set x = x ~ x %}` in a loop doubles per step) or an integer beyond maxInt
 *     (`indent(500000000)` builds the string before anything could measure it) stops the render;
 *   - range() is ours, with at most maxRangeItems items (the library's builds the whole
 *     array first: range(100000000) exhausts memory).
 */
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { ConfigError } from '../errors.ts';

export const CHAT_TEMPLATE_LIMITS = {
  /**
   * ChatML renders in 16 steps per message; long tool-calling templates take a few hundred.
   * 200k steps is hundreds to thousands of messages, and a fraction of a second of work.
   */
  maxSteps: 200_000,
  /**
   * 1M characters ≈ 256k tokens of prompt, beyond the KV cache of any model we run in a tab;
   * it also bounds what a loop over a string can iterate.
   */
  maxOutputChars: 1_048_576,
  /** Integers in templates are indices, counts and widths; 16M also bounds `indent(n)` to 16 MB. */
  maxInt: 16_777_216,
  /** Templates use range() over message counts or small widths. */
  maxRangeItems: 100_000,
} as const;

class TemplateLimitError extends Error {}

// biome-ignore lint/suspicious/noExplicitAny: the library's runtime values are not exported as types
type RuntimeValue = any;

/**
 * An Interpreter that counts steps and checks each value it produces. A step is one node
 * evaluated or one block entered: a loop with an empty body evaluates no node per
 * iteration, but enters its (empty) block, so `{% for j in range(n) %}{% endfor %}` counts too.
 */
class BoundedInterpreter extends Interpreter {
  private steps = 0;

  // biome-ignore lint/suspicious/noExplicitAny: the library's Environment type
  constructor(env: any) {
    super(env);
    // evaluateBlock is private in the library's types; wrap this instance's, not the prototype.
    const self = this as unknown as { evaluateBlock: (body: unknown, env: unknown) => RuntimeValue };
    const evaluateBlock = self.evaluateBlock;
    self.evaluateBlock = (body, blockEnv) => {
      this.tick();
      return evaluateBlock.call(this, body, blockEnv);
    };
  }

  /** Counts `steps` (default one) against maxSteps. range(n) costs n: it builds n values. */
  tick(steps = 1): void {
    this.steps += steps;
    if (this.steps > CHAT_TEMPLATE_LIMITS.maxSteps) {
      throw new TemplateLimitError(`the render took more than ${CHAT_TEMPLATE_LIMITS.maxSteps} steps (maxSteps)`);
    }
  }

  // biome-ignore lint/suspicious/noExplicitAny: the library's AST and Environment types
  override evaluate(statement: any, environment: any): RuntimeValue {
    this.tick();
    const value = super.evaluate(statement, environment);
    checkValue(value);
    return value;
  }
}

function checkValue(value: RuntimeValue): void {
  const v = value?.value;
  if (typeof v === 'string' && v.length > CHAT_TEMPLATE_LIMITS.maxOutputChars) {
    throw new TemplateLimitError(
      `a string of ${v.length} characters exceeds ${CHAT_TEMPLATE_LIMITS.maxOutputChars} (maxOutputChars)`,
    );
  }
  if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) > CHAT_TEMPLATE_LIMITS.maxInt) {
    throw new TemplateLimitError(`the integer ${v} exceeds ${CHAT_TEMPLATE_LIMITS.maxInt} (maxInt)`);
  }
}

/** range() that refuses more than maxRangeItems items and charges one step per item. */
function boundedRange(interpreter: BoundedInterpreter) {
  return (start: number, stop?: number, step = 1): number[] => {
    if (stop === undefined) [start, stop] = [0, start];
    if (step === 0) throw new Error('range() step must not be zero');
    const count = Math.max(0, Math.ceil((stop - start) / step));
    if (!Number.isFinite(count) || count > CHAT_TEMPLATE_LIMITS.maxRangeItems) {
      throw new TemplateLimitError(
        `range(${start}, ${stop}, ${step}) has more than ${CHAT_TEMPLATE_LIMITS.maxRangeItems} items (maxRangeItems)`,
      );
    }
    interpreter.tick(count);
    return Array.from({ length: count }, (_, i) => start + i * step);
  };
}

/** strftime_now for the formats templates use (Llama 3.1: "%d %b %Y"). */
function strftimeNow(format: string): string {
  const now = new Date();
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return format.replace(/%([dmYbBHMS%])/g, (_, c: string) => {
    switch (c) {
      case 'd':
        return pad(now.getDate());
      case 'm':
        return pad(now.getMonth() + 1);
      case 'Y':
        return String(now.getFullYear());
      case 'b':
        return months[now.getMonth()]!;
      case 'B':
        return now.toLocaleString('en-US', { month: 'long' });
      case 'H':
        return pad(now.getHours());
      case 'M':
        return pad(now.getMinutes());
      case 'S':
        return pad(now.getSeconds());
      default:
        return '%';
    }
  });
}

/** A compiled chat template from `file`; render() enforces CHAT_TEMPLATE_LIMITS. */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    source: string,
    private readonly file: string,
  ) {
    if (typeof source !== 'string') throw new ConfigError(`${file}: chat_template must be a string`);
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new ConfigError(`${file}: chat_template does not compile: ${messageOf(error)}`);
    }
  }

  render(variables: Record<string, unknown>): string {
    // The globals Template.render sets (setupGlobals), with our range() and strftime_now().
    const env = new Environment();
    const interpreter = new BoundedInterpreter(env);
    const globals: Record<string, unknown> = {
      false: false,
      true: true,
      none: null,
      False: false,
      True: true,
      None: null,
      raise_exception: (message: unknown) => {
        throw new Error(`raise_exception(${JSON.stringify(String(message)).slice(0, 200)})`);
      },
      range: boundedRange(interpreter),
      strftime_now: strftimeNow,
      ...variables,
    };
    let result: RuntimeValue;
    try {
      for (const [key, value] of Object.entries(globals)) env.set(key, value);
      result = interpreter.run(this.template.parsed);
    } catch (error) {
      const kind = error instanceof TemplateLimitError ? 'exceeds a limit' : 'failed';
      throw new ConfigError(`${this.file}: chat_template ${kind}: ${messageOf(error)}`);
    }
    return String(result.value);
  }
}

function messageOf(error: unknown): string {
  if (error instanceof RangeError) return `${error.message} (the template asked for too much memory)`;
  return error instanceof Error ? error.message : String(error);
}
