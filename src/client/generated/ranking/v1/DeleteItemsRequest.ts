// Original file: proto/ranking/v1/ranking.proto


export interface DeleteItemsRequest {
  'item_ids'?: (string)[];
}

export interface DeleteItemsRequest__Output {
  'item_ids': (string)[];
}
