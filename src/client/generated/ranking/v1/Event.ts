// Original file: proto/ranking/v1/ranking.proto

import type { ActionType as _ranking_v1_ActionType, ActionType__Output as _ranking_v1_ActionType__Output } from '../../ranking/v1/ActionType';
import type { Long } from '@grpc/proto-loader';

export interface Event {
  'user_id'?: (string);
  'item_id'?: (string);
  'type'?: (_ranking_v1_ActionType);
  /**
   * Milliseconds since the epoch; 0 = now. At most --max-clock-skew-ms
   * (5 minutes by default) ahead of the server clock, else INVALID_ARGUMENT.
   */
  'timestamp_ms'?: (number | string | Long);
}

export interface Event__Output {
  'user_id': (string);
  'item_id': (string);
  'type': (_ranking_v1_ActionType__Output);
  /**
   * Milliseconds since the epoch; 0 = now. At most --max-clock-skew-ms
   * (5 minutes by default) ahead of the server clock, else INVALID_ARGUMENT.
   */
  'timestamp_ms': (number);
}
