// Which arithmetic the rankers' layers run in. 'fp32' is exact (the reference
// the tests compare with); 'bf16' and 'int8' run through oneDNN (int8 after a
// calibration over the bundle's own rows, see docs/bundle-format.md); 'auto'
// is resolved here, per CPU, to the fastest precision that meets the quality
// bar. (No addon here: the manifest checks use these types; the CPU's
// capabilities come from src/native/index.ts's onednnCpu.)

export type DcnPrecision = 'fp32' | 'bf16' | 'int8';
export type DcnPrecisionSetting = DcnPrecision | 'auto';

export const PRECISION_SETTINGS: readonly DcnPrecisionSetting[] = ['auto', 'fp32', 'bf16', 'int8'];

export function isPrecisionSetting(v: unknown): v is DcnPrecisionSetting {
  return typeof v === 'string' && (PRECISION_SETTINGS as readonly string[]).includes(v);
}

/** What oneDNN finds on this CPU. */
export interface CpuCaps {
  /** oneDNN's name of the instruction set it uses, e.g. 'avx512_core_bf16'. */
  isa: string;
  /** int8 dot products (AVX-512 VNNI or AVX-VNNI). */
  vnni: boolean;
  /** Native bf16 dot products (AVX-512 BF16). */
  bf16: boolean;
  /** AMX tiles. */
  amx: boolean;
}

/**
 * 'auto', first rule that holds: int8 where the CPU has int8 dot products
 * (VNNI or AMX), bf16 with AMX (every AMX CPU also has int8, so this rule
 * matters only if the int8 rule is dropped), else fp32. bf16 without AMX is
 * slower than fp32 (oneDNN 2.6), so AVX-512 BF16 alone does not pick it.
 * Change the table after measuring (bench/dcn-precision.ts).
 */
export const AUTO_RULES: readonly { when: (cpu: CpuCaps) => boolean; use: DcnPrecision }[] = [
  { when: (c) => c.vnni || c.amx, use: 'int8' },
  { when: (c) => c.amx, use: 'bf16' },
];

export function autoPrecision(cpu: CpuCaps): DcnPrecision {
  return AUTO_RULES.find((r) => r.when(cpu))?.use ?? 'fp32';
}

/** A setting resolved to a precision: an explicit one wins, 'auto' asks the CPU. */
export function resolvePrecision(setting: DcnPrecisionSetting | undefined, cpu: CpuCaps): DcnPrecision {
  return setting === undefined || setting === 'auto' ? autoPrecision(cpu) : setting;
}
