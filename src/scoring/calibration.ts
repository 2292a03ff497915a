// The rows an int8 ranker is calibrated on at load (docs/bundle-format.md,
// "int8 rankers"): item parts of x0 for rows spread evenly over the catalog,
// each block of rows paired with a plausible user part: a catalog item's
// embedding as the user's taste, its log price as the preferred price, and
// every surface and device in turn. The fp32 model runs over these rows and
// records each layer's input ranges; nothing here depends on the clock or on
// chance, so every worker calibrates the same way.
import { featureLayout, userFeatures } from '../models/layout';
import type { DcnCalibration } from '../native/dcn';
import { gatherItemFeatures } from '../native/features';
import { DEVICES, SURFACES } from '../models/schema';
import type { LiveCatalog } from '../catalog/catalog';

export interface CalibrationSize {
  /** Pseudo-users (segments). */
  users: number;
  /** Item rows per pseudo-user. */
  rowsPerUser: number;
}

export const CALIBRATION_SIZE: CalibrationSize = { users: 32, rowsPerUser: 32 };

export function calibrationSample(catalog: LiveCatalog, size: CalibrationSize = CALIBRATION_SIZE): DcnCalibration {
  const n = catalog.size;
  const l = featureLayout(catalog.dim);
  const { cols } = catalog;
  const segments = n === 0 ? 0 : size.users;
  const total = segments * size.rowsPerUser;
  const rows = new Int32Array(total);
  for (let i = 0; i < total; i++) rows[i] = Math.min(n - 1, Math.floor(((i + 0.5) * n) / total));
  // "Now" is the newest sampled item's creation time: new and old items both appear.
  let now = 0;
  for (const r of rows) now = Math.max(now, cols.createdAt[r]);
  const items = gatherItemFeatures(cols, rows, now, catalog.newItemMs);
  const users = new Float32Array(segments * l.userDim);
  const offsets = new Int32Array(segments + 1);
  for (let g = 0; g < segments; g++) {
    // A taste taken from between the sampled rows, so users and items differ.
    const row = Math.min(n - 1, Math.floor(((g + 0.25) * n) / segments));
    const emb = cols.embeddings.subarray(row * l.dim, (row + 1) * l.dim);
    userFeatures(l, emb, cols.logPrice[row], SURFACES[g % SURFACES.length], DEVICES[g % DEVICES.length], users.subarray(g * l.userDim, (g + 1) * l.userDim));
    offsets[g + 1] = (g + 1) * size.rowsPerUser;
  }
  return { users, offsets, items };
}
