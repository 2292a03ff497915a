// Original file: proto/ranking/v1/ranking.proto


export interface ObjectiveScore {
  'objective'?: (string);
  'probability'?: (number | string);
}

export interface ObjectiveScore__Output {
  'objective': (string);
  'probability': (number);
}
