// Original file: proto/ranking/v1/ranking.proto


export interface StageScore {
  'stage'?: (string);
  'score'?: (number | string);
}

export interface StageScore__Output {
  'stage': (string);
  'score': (number);
}
