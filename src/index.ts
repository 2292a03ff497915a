// Public API of the package.
export * from './native';
export { loadBundle, newItemMask } from './bundle/loader';
export type { Bundle, BundleItems, BundleModel, LoadOptions } from './bundle/loader';
export { BundleError, readManifest } from './bundle/manifest';
export type { Manifest } from './bundle/manifest';
export { featureLayout, userFeatures, gatherItemFeatures } from './models/layout';
export type { FeatureLayout } from './models/layout';
