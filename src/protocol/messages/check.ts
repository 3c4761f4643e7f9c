import { HerdError } from '../errors.ts';

/** A decoded JSON object whose fields are not checked yet. */
export type Shape = Record<string, unknown>;

/** One validator per message type of a family: a family without one for each of its types does not compile. */
export type Validators<M extends { t: string }> = { readonly [T in M['t']]: (o: Shape) => void };

export function fail(what: string): never {
  throw new HerdError('PROTOCOL', `malformed message: ${what}`);
}
export function str(o: Shape, key: string, optional = false): void {
  if (optional && o[key] === undefined) return;
  if (typeof o[key] !== 'string') fail(`${String(o.t)}.${key} must be a string`);
}
export function nullableStr(o: Shape, key: string): void {
  if (o[key] !== null && typeof o[key] !== 'string') fail(`${String(o.t)}.${key} must be a string or null`);
}
export function int(o: Shape, key: string): void {
  if (!Number.isSafeInteger(o[key])) fail(`${String(o.t)}.${key} must be an integer`);
}
/** An integer ≥ 0, where `optional` lets it be absent. */
export function count(o: Shape, key: string, optional = false): void {
  if (optional && o[key] === undefined) return;
  if (!(Number.isSafeInteger(o[key]) && (o[key] as number) >= 0)) fail(`${String(o.t)}.${key}`);
}
export function positive(o: Shape, key: string, optional = false): void {
  if (optional && o[key] === undefined) return;
  if (!(Number.isSafeInteger(o[key]) && (o[key] as number) > 0)) fail(`${String(o.t)}.${key} must be a positive integer`);
}
export function bool(o: Shape, key: string, optional = false): void {
  if (optional && o[key] === undefined) return;
  if (typeof o[key] !== 'boolean') fail(`${String(o.t)}.${key} must be true or false`);
}
export function stringArray(o: Shape, key: string, max: number): void {
  const value = o[key];
  if (!Array.isArray(value) || value.length > max || !value.every((v) => typeof v === 'string')) {
    fail(`${String(o.t)}.${key} must be a list of at most ${max} strings`);
  }
}
export function oneOf(o: Shape, key: string, values: readonly string[], optional = false): void {
  if (optional && o[key] === undefined) return;
  if (!values.includes(o[key] as string)) fail(`${String(o.t)}.${key}`);
}
export function isObject(value: unknown): value is Shape {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
