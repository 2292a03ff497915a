// Original file: proto/ranking/v1/ranking.proto

import type { Long } from '@grpc/proto-loader';

export interface Item {
  'item_id'?: (string);
  'brand'?: (string);
  'category'?: (string);
  /**
   * Positive, at most 1e12.
   */
  'price'?: (number | string);
  /**
   * Milliseconds since the epoch; 0 = now; at most --max-clock-skew-ms ahead.
   */
  'created_at_ms'?: (number | string | Long);
  'content_hash'?: (string);
  /**
   * Embedding of bundle dimension; every value finite and of magnitude at
   * most 1e4 (larger values overflow the ranker).
   */
  'embedding'?: (number | string)[];
  /**
   * Popularity bias, of magnitude at most 1e4.
   */
  'bias'?: (number | string);
}

export interface Item__Output {
  'item_id': (string);
  'brand': (string);
  'category': (string);
  /**
   * Positive, at most 1e12.
   */
  'price': (number);
  /**
   * Milliseconds since the epoch; 0 = now; at most --max-clock-skew-ms ahead.
   */
  'created_at_ms': (number);
  'content_hash': (string);
  /**
   * Embedding of bundle dimension; every value finite and of magnitude at
   * most 1e4 (larger values overflow the ranker).
   */
  'embedding': (number)[];
  /**
   * Popularity bias, of magnitude at most 1e4.
   */
  'bias': (number);
}
