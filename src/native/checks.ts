// Input checks shared by the native wrappers: they throw before bad input can
// reach C++, with messages that name the argument.

export class NativeInputError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'NativeInputError';
  }
}

export function checkInt(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new NativeInputError(`${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

export function checkNumber(name: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new NativeInputError(`${name} must be a finite number in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

export function checkF32(name: string, v: unknown, length?: number): Float32Array {
  if (!(v instanceof Float32Array)) throw new NativeInputError(`${name} must be a Float32Array`);
  if (length !== undefined && v.length !== length) {
    throw new NativeInputError(`${name} must have length ${length}, got ${v.length}`);
  }
  return v;
}

/** Throws if any value is NaN or infinite, naming the first offending index. */
export function checkFinite(name: string, v: Float32Array): Float32Array {
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw new NativeInputError(`${name}[${i}] is not finite (${v[i]})`);
  }
  return v;
}

export function checkI32(name: string, v: unknown, length?: number): Int32Array {
  if (!(v instanceof Int32Array)) throw new NativeInputError(`${name} must be an Int32Array`);
  if (length !== undefined && v.length !== length) {
    throw new NativeInputError(`${name} must have length ${length}, got ${v.length}`);
  }
  return v;
}

export function checkMultiple(name: string, length: number, dim: number): number {
  if (length % dim !== 0) throw new NativeInputError(`${name} length ${length} is not a multiple of dim ${dim}`);
  return length / dim;
}

/** Row indices must address rows of a matrix with `rows` rows. */
export function checkRows(name: string, v: Int32Array, rows: number): Int32Array {
  for (let i = 0; i < v.length; i++) {
    if (v[i] < 0 || v[i] >= rows) throw new NativeInputError(`${name}[${i}] = ${v[i]} is out of range [0, ${rows})`);
  }
  return v;
}

export function toIds(name: string, v: BigInt64Array | readonly (number | bigint)[]): BigInt64Array {
  if (v instanceof BigInt64Array) return v;
  if (!Array.isArray(v)) throw new NativeInputError(`${name} must be a BigInt64Array or an array of integers`);
  const out = new BigInt64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x === 'bigint') out[i] = x;
    else if (Number.isSafeInteger(x)) out[i] = BigInt(x);
    else throw new NativeInputError(`${name}[${i}] must be an integer, got ${String(x)}`);
  }
  return out;
}
