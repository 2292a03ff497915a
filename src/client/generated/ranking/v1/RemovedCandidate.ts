// Original file: proto/ranking/v1/ranking.proto


export interface RemovedCandidate {
  'item_id'?: (string);
  'stage'?: (string);
  'reason'?: (string);
}

export interface RemovedCandidate__Output {
  'item_id': (string);
  'stage': (string);
  'reason': (string);
}
