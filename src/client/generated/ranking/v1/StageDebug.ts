// Original file: proto/ranking/v1/ranking.proto


export interface StageDebug {
  'stage'?: (string);
  'millis'?: (number | string);
  'candidates_in'?: (number);
  'candidates_out'?: (number);
  'note'?: (string);
}

export interface StageDebug__Output {
  'stage': (string);
  'millis': (number);
  'candidates_in': (number);
  'candidates_out': (number);
  'note': (string);
}
