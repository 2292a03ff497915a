// Original file: proto/ranking/v1/ranking.proto


export interface ReloadBundleRequest {
  /**
   * Bundle directory, relative to the server's bundle root.
   */
  'path'?: (string);
}

export interface ReloadBundleRequest__Output {
  /**
   * Bundle directory, relative to the server's bundle root.
   */
  'path': (string);
}
