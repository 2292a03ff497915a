// The shape of a DCN-v2 model, as the bundle's config and the addon take it.

export interface DcnShape {
  /** Width of x0 = [user/context features | item features]. */
  inputDim: number;
  /** Leading features of x0 shared by every candidate of a request (0 = no split). */
  userDim: number;
  crossLayers: number;
  /** 0: full-rank W_l (D x D); r > 0: low-rank U_l (D x r) V_l (r x D). */
  crossRank: number;
  /** Hidden widths of the ReLU MLP. */
  mlp: number[];
  /** One sigmoid head per objective. */
  heads: number;
  /** 'stacked': MLP on the cross output; 'parallel': MLP on x0, heads on [x_L, h]. */
  structure: 'stacked' | 'parallel';
}
