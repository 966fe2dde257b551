import { describe, expect, it } from 'vitest';
import { ConfigError, MissingFileError, restoreErrorKind, StudioError } from './errors.ts';

describe('restoreErrorKind', () => {
  it('gives an error that crossed comlink (a plain Error named by its kind) its class back, message and stack kept', () => {
    const crossed = Object.assign(new Error('engine: messages: too long'), { name: 'ConfigError' });
    const stack = crossed.stack;
    const restored = restoreErrorKind(crossed);
    expect(restored).toBe(crossed);
    expect(restored).toBeInstanceOf(ConfigError);
    expect(restored).toBeInstanceOf(StudioError);
    expect(restored).toMatchObject({ name: 'ConfigError', message: 'engine: messages: too long', stack });
    const missing = restoreErrorKind(Object.assign(new Error("hub: x: no file 'y'"), { name: 'MissingFileError' }));
    expect(missing).toBeInstanceOf(MissingFileError);
  });

  it('leaves other errors and non-errors as they are', () => {
    const plain = new TypeError('x');
    expect(restoreErrorKind(plain)).toBe(plain);
    expect(Object.getPrototypeOf(plain)).toBe(TypeError.prototype);
    const odd = Object.assign(new Error('x'), { name: 'SomethingElse' });
    expect(Object.getPrototypeOf(restoreErrorKind(odd))).toBe(Error.prototype);
    expect(restoreErrorKind('text')).toBe('text');
  });
});
