// Original file: proto/ranking/v1/ranking.proto


export interface DeleteItemsResponse {
  'deleted'?: (number);
  'unknown_item_ids'?: (string)[];
}

export interface DeleteItemsResponse__Output {
  'deleted': (number);
  'unknown_item_ids': (string)[];
}
