// The names of a DCN-v2 model's tensors in a bundle's safetensors file.
import type { DcnShape } from '../native/dcn';

/** Tensor names for the safetensors files, in the order flattenWeights() expects. */
export function tensorNames(shape: DcnShape): string[] {
  const names: string[] = [];
  for (let l = 0; l < shape.crossLayers; l++) {
    if (shape.crossRank === 0) names.push(`cross.${l}.weight`);
    else names.push(`cross.${l}.u`, `cross.${l}.v`);
    names.push(`cross.${l}.bias`);
  }
  shape.mlp.forEach((_, j) => names.push(`mlp.${j}.weight`, `mlp.${j}.bias`));
  names.push('heads.weight', 'heads.bias');
  return names;
}
