// Original file: proto/ranking/v1/ranking.proto

import type { Item as _ranking_v1_Item, Item__Output as _ranking_v1_Item__Output } from '../../ranking/v1/Item';

export interface UpsertItemsRequest {
  'items'?: (_ranking_v1_Item)[];
}

export interface UpsertItemsRequest__Output {
  'items': (_ranking_v1_Item__Output)[];
}
