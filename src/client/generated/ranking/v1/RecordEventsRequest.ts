// Original file: proto/ranking/v1/ranking.proto

import type { Event as _ranking_v1_Event, Event__Output as _ranking_v1_Event__Output } from '../../ranking/v1/Event';

export interface RecordEventsRequest {
  'events'?: (_ranking_v1_Event)[];
}

export interface RecordEventsRequest__Output {
  'events': (_ranking_v1_Event__Output)[];
}
