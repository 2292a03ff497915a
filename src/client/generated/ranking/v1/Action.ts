// Original file: proto/ranking/v1/ranking.proto

import type { ActionType as _ranking_v1_ActionType, ActionType__Output as _ranking_v1_ActionType__Output } from '../../ranking/v1/ActionType';
import type { Long } from '@grpc/proto-loader';

export interface Action {
  'item_id'?: (string);
  'type'?: (_ranking_v1_ActionType);
  /**
   * Milliseconds since the epoch; 0 = now. At most --max-clock-skew-ms
   * ahead of the server clock, as for Event.
   */
  'timestamp_ms'?: (number | string | Long);
}

export interface Action__Output {
  'item_id': (string);
  'type': (_ranking_v1_ActionType__Output);
  /**
   * Milliseconds since the epoch; 0 = now. At most --max-clock-skew-ms
   * ahead of the server clock, as for Event.
   */
  'timestamp_ms': (number);
}
