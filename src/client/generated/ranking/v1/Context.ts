// Original file: proto/ranking/v1/ranking.proto

import type { Surface as _ranking_v1_Surface, Surface__Output as _ranking_v1_Surface__Output } from '../../ranking/v1/Surface';
import type { Device as _ranking_v1_Device, Device__Output as _ranking_v1_Device__Output } from '../../ranking/v1/Device';

export interface Context {
  'surface'?: (_ranking_v1_Surface);
  'device'?: (_ranking_v1_Device);
  /**
   * ISO 3166-1 alpha-2 country code (informational).
   */
  'country'?: (string);
  /**
   * Only items of this category are retrieved (exact category name).
   */
  'category'?: (string);
  /**
   * Free-text query (informational in this version: search re-ranking uses
   * candidate_ids).
   */
  'query'?: (string);
}

export interface Context__Output {
  'surface': (_ranking_v1_Surface__Output);
  'device': (_ranking_v1_Device__Output);
  /**
   * ISO 3166-1 alpha-2 country code (informational).
   */
  'country': (string);
  /**
   * Only items of this category are retrieved (exact category name).
   */
  'category': (string);
  /**
   * Free-text query (informational in this version: search re-ranking uses
   * candidate_ids).
   */
  'query': (string);
}
