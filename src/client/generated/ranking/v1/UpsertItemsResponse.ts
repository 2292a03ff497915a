// Original file: proto/ranking/v1/ranking.proto


export interface UpsertItemsResponse {
  'inserted'?: (number);
  'updated'?: (number);
}

export interface UpsertItemsResponse__Output {
  'inserted': (number);
  'updated': (number);
}
