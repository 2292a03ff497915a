// Original file: proto/ranking/v1/ranking.proto


export interface ReloadBundleResponse {
  'bundle_version'?: (string);
  'items'?: (number);
  'load_millis'?: (number | string);
  /**
   * Recorded events replayed into the new bundle's user state.
   */
  'replayed_events'?: (number);
  /**
   * Catalog changes (one per item) re-applied to the new bundle.
   */
  'replayed_catalog_changes'?: (number);
  /**
   * Catalog changes the new bundle supersedes: not applied, and forgotten.
   */
  'superseded_catalog_changes'?: (number);
}

export interface ReloadBundleResponse__Output {
  'bundle_version': (string);
  'items': (number);
  'load_millis': (number);
  /**
   * Recorded events replayed into the new bundle's user state.
   */
  'replayed_events': (number);
  /**
   * Catalog changes (one per item) re-applied to the new bundle.
   */
  'replayed_catalog_changes': (number);
  /**
   * Catalog changes the new bundle supersedes: not applied, and forgotten.
   */
  'superseded_catalog_changes': (number);
}
