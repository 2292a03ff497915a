// Original file: proto/ranking/v1/ranking.proto


export interface RecordEventsResponse {
  'accepted'?: (number);
}

export interface RecordEventsResponse__Output {
  'accepted': (number);
}
