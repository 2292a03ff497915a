// Original file: proto/ranking/v1/ranking.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DeleteItemsRequest as _ranking_v1_DeleteItemsRequest, DeleteItemsRequest__Output as _ranking_v1_DeleteItemsRequest__Output } from '../../ranking/v1/DeleteItemsRequest';
import type { DeleteItemsResponse as _ranking_v1_DeleteItemsResponse, DeleteItemsResponse__Output as _ranking_v1_DeleteItemsResponse__Output } from '../../ranking/v1/DeleteItemsResponse';
import type { RankRequest as _ranking_v1_RankRequest, RankRequest__Output as _ranking_v1_RankRequest__Output } from '../../ranking/v1/RankRequest';
import type { RankResponse as _ranking_v1_RankResponse, RankResponse__Output as _ranking_v1_RankResponse__Output } from '../../ranking/v1/RankResponse';
import type { RecordEventsRequest as _ranking_v1_RecordEventsRequest, RecordEventsRequest__Output as _ranking_v1_RecordEventsRequest__Output } from '../../ranking/v1/RecordEventsRequest';
import type { RecordEventsResponse as _ranking_v1_RecordEventsResponse, RecordEventsResponse__Output as _ranking_v1_RecordEventsResponse__Output } from '../../ranking/v1/RecordEventsResponse';
import type { ReloadBundleRequest as _ranking_v1_ReloadBundleRequest, ReloadBundleRequest__Output as _ranking_v1_ReloadBundleRequest__Output } from '../../ranking/v1/ReloadBundleRequest';
import type { ReloadBundleResponse as _ranking_v1_ReloadBundleResponse, ReloadBundleResponse__Output as _ranking_v1_ReloadBundleResponse__Output } from '../../ranking/v1/ReloadBundleResponse';
import type { UpsertItemsRequest as _ranking_v1_UpsertItemsRequest, UpsertItemsRequest__Output as _ranking_v1_UpsertItemsRequest__Output } from '../../ranking/v1/UpsertItemsRequest';
import type { UpsertItemsResponse as _ranking_v1_UpsertItemsResponse, UpsertItemsResponse__Output as _ranking_v1_UpsertItemsResponse__Output } from '../../ranking/v1/UpsertItemsResponse';

/**
 * RankingService ranks items for one user on one surface through the cascade
 * retrieval -> pre-rank -> rank -> ensemble -> policy, and takes the events
 * and catalog changes that the next ranking must reflect.
 */
export interface RankingServiceClient extends grpc.Client {
  /**
   * Removes catalog items; they are never returned again, also after a
   * ReloadBundle of a bundle built before the delete or a restart with the
   * catalog log (same logging and supersede rule as UpsertItems). Ids the
   * serving bundle does not know are listed in unknown_item_ids and are
   * still deleted from later bundles.
   * Status codes: OK; INVALID_ARGUMENT; RESOURCE_EXHAUSTED (too many changes
   * waiting for the catalog log); UNAVAILABLE.
   */
  DeleteItems(argument: _ranking_v1_DeleteItemsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_DeleteItemsResponse__Output>): grpc.ClientUnaryCall;
  DeleteItems(argument: _ranking_v1_DeleteItemsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranking_v1_DeleteItemsResponse__Output>): grpc.ClientUnaryCall;
  DeleteItems(argument: _ranking_v1_DeleteItemsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_DeleteItemsResponse__Output>): grpc.ClientUnaryCall;
  DeleteItems(argument: _ranking_v1_DeleteItemsRequest, callback: grpc.requestCallback<_ranking_v1_DeleteItemsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Removes catalog items; they are never returned again, also after a
   * ReloadBundle of a bundle built before the delete or a restart with the
   * catalog log (same logging and supersede rule as UpsertItems). Ids the
   * serving bundle does not know are listed in unknown_item_ids and are
   * still deleted from later bundles.
   * Status codes: OK; INVALID_ARGUMENT; RESOURCE_EXHAUSTED (too many changes
   * waiting for the catalog log); UNAVAILABLE.
   */
  deleteItems(argument: _ranking_v1_DeleteItemsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_DeleteItemsResponse__Output>): grpc.ClientUnaryCall;
  deleteItems(argument: _ranking_v1_DeleteItemsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranking_v1_DeleteItemsResponse__Output>): grpc.ClientUnaryCall;
  deleteItems(argument: _ranking_v1_DeleteItemsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_DeleteItemsResponse__Output>): grpc.ClientUnaryCall;
  deleteItems(argument: _ranking_v1_DeleteItemsRequest, callback: grpc.requestCallback<_ranking_v1_DeleteItemsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Ranks items for a user in a context.
   * Status codes: OK; INVALID_ARGUMENT (a field is invalid: the message names
   * it); UNAVAILABLE (no bundle loaded yet, or shutting down);
   * RESOURCE_EXHAUSTED (queues full: retry after the delay in the
   * "retry-after-ms" trailer); DEADLINE_EXCEEDED; INTERNAL.
   */
  Rank(argument: _ranking_v1_RankRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_RankResponse__Output>): grpc.ClientUnaryCall;
  Rank(argument: _ranking_v1_RankRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranking_v1_RankResponse__Output>): grpc.ClientUnaryCall;
  Rank(argument: _ranking_v1_RankRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_RankResponse__Output>): grpc.ClientUnaryCall;
  Rank(argument: _ranking_v1_RankRequest, callback: grpc.requestCallback<_ranking_v1_RankResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Ranks items for a user in a context.
   * Status codes: OK; INVALID_ARGUMENT (a field is invalid: the message names
   * it); UNAVAILABLE (no bundle loaded yet, or shutting down);
   * RESOURCE_EXHAUSTED (queues full: retry after the delay in the
   * "retry-after-ms" trailer); DEADLINE_EXCEEDED; INTERNAL.
   */
  rank(argument: _ranking_v1_RankRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_RankResponse__Output>): grpc.ClientUnaryCall;
  rank(argument: _ranking_v1_RankRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranking_v1_RankResponse__Output>): grpc.ClientUnaryCall;
  rank(argument: _ranking_v1_RankRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_RankResponse__Output>): grpc.ClientUnaryCall;
  rank(argument: _ranking_v1_RankRequest, callback: grpc.requestCallback<_ranking_v1_RankResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Records user actions. Acknowledges only what was applied: the next Rank
   * for the user reflects every event of an OK response.
   * Status codes: OK; INVALID_ARGUMENT; RESOURCE_EXHAUSTED; UNAVAILABLE.
   */
  RecordEvents(argument: _ranking_v1_RecordEventsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_RecordEventsResponse__Output>): grpc.ClientUnaryCall;
  RecordEvents(argument: _ranking_v1_RecordEventsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranking_v1_RecordEventsResponse__Output>): grpc.ClientUnaryCall;
  RecordEvents(argument: _ranking_v1_RecordEventsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_RecordEventsResponse__Output>): grpc.ClientUnaryCall;
  RecordEvents(argument: _ranking_v1_RecordEventsRequest, callback: grpc.requestCallback<_ranking_v1_RecordEventsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Records user actions. Acknowledges only what was applied: the next Rank
   * for the user reflects every event of an OK response.
   * Status codes: OK; INVALID_ARGUMENT; RESOURCE_EXHAUSTED; UNAVAILABLE.
   */
  recordEvents(argument: _ranking_v1_RecordEventsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_RecordEventsResponse__Output>): grpc.ClientUnaryCall;
  recordEvents(argument: _ranking_v1_RecordEventsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranking_v1_RecordEventsResponse__Output>): grpc.ClientUnaryCall;
  recordEvents(argument: _ranking_v1_RecordEventsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_RecordEventsResponse__Output>): grpc.ClientUnaryCall;
  recordEvents(argument: _ranking_v1_RecordEventsRequest, callback: grpc.requestCallback<_ranking_v1_RecordEventsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Loads a bundle beside the serving one, validates and warms it, then swaps
   * atomically: in-flight calls finish on the old bundle, the catalog changes
   * (UpsertItems, DeleteItems) the new bundle does not supersede are
   * re-applied to it, and the events recorded since start are replayed into
   * it. Changes the new bundle supersedes (its createdAt is later) are
   * forgotten once it serves. UpsertItems and DeleteItems need the same admin
   * credentials.
   * Status codes: OK; INVALID_ARGUMENT (path outside the bundle root, or an
   * invalid bundle: the message names the file); UNAUTHENTICATED (no
   * credentials); PERMISSION_DENIED (wrong credentials, or admin calls
   * disabled); FAILED_PRECONDITION (a reload is already running);
   * RESOURCE_EXHAUSTED (the new bundle has no room for the upserted items).
   */
  ReloadBundle(argument: _ranking_v1_ReloadBundleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_ReloadBundleResponse__Output>): grpc.ClientUnaryCall;
  ReloadBundle(argument: _ranking_v1_ReloadBundleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranking_v1_ReloadBundleResponse__Output>): grpc.ClientUnaryCall;
  ReloadBundle(argument: _ranking_v1_ReloadBundleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_ReloadBundleResponse__Output>): grpc.ClientUnaryCall;
  ReloadBundle(argument: _ranking_v1_ReloadBundleRequest, callback: grpc.requestCallback<_ranking_v1_ReloadBundleResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Loads a bundle beside the serving one, validates and warms it, then swaps
   * atomically: in-flight calls finish on the old bundle, the catalog changes
   * (UpsertItems, DeleteItems) the new bundle does not supersede are
   * re-applied to it, and the events recorded since start are replayed into
   * it. Changes the new bundle supersedes (its createdAt is later) are
   * forgotten once it serves. UpsertItems and DeleteItems need the same admin
   * credentials.
   * Status codes: OK; INVALID_ARGUMENT (path outside the bundle root, or an
   * invalid bundle: the message names the file); UNAUTHENTICATED (no
   * credentials); PERMISSION_DENIED (wrong credentials, or admin calls
   * disabled); FAILED_PRECONDITION (a reload is already running);
   * RESOURCE_EXHAUSTED (the new bundle has no room for the upserted items).
   */
  reloadBundle(argument: _ranking_v1_ReloadBundleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_ReloadBundleResponse__Output>): grpc.ClientUnaryCall;
  reloadBundle(argument: _ranking_v1_ReloadBundleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranking_v1_ReloadBundleResponse__Output>): grpc.ClientUnaryCall;
  reloadBundle(argument: _ranking_v1_ReloadBundleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_ReloadBundleResponse__Output>): grpc.ClientUnaryCall;
  reloadBundle(argument: _ranking_v1_ReloadBundleRequest, callback: grpc.requestCallback<_ranking_v1_ReloadBundleResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Adds or replaces catalog items; they are retrievable by the next Rank.
   * OK only once the change is logged (durably with --catalog-log, else in
   * memory): it is re-applied to every bundle loaded later (ReloadBundle,
   * SIGHUP, a restart with the catalog log) unless that bundle supersedes it,
   * i.e. its manifest createdAt is later than the change and than the
   * createdAt of the bundle the change was made on (a bundle built after the
   * change is taken to contain it).
   * Status codes: OK; INVALID_ARGUMENT; RESOURCE_EXHAUSTED (catalog capacity,
   * or too many changes waiting for the catalog log); UNAVAILABLE (not ready,
   * shutting down, or the catalog log write failed).
   */
  UpsertItems(argument: _ranking_v1_UpsertItemsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_UpsertItemsResponse__Output>): grpc.ClientUnaryCall;
  UpsertItems(argument: _ranking_v1_UpsertItemsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranking_v1_UpsertItemsResponse__Output>): grpc.ClientUnaryCall;
  UpsertItems(argument: _ranking_v1_UpsertItemsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_UpsertItemsResponse__Output>): grpc.ClientUnaryCall;
  UpsertItems(argument: _ranking_v1_UpsertItemsRequest, callback: grpc.requestCallback<_ranking_v1_UpsertItemsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Adds or replaces catalog items; they are retrievable by the next Rank.
   * OK only once the change is logged (durably with --catalog-log, else in
   * memory): it is re-applied to every bundle loaded later (ReloadBundle,
   * SIGHUP, a restart with the catalog log) unless that bundle supersedes it,
   * i.e. its manifest createdAt is later than the change and than the
   * createdAt of the bundle the change was made on (a bundle built after the
   * change is taken to contain it).
   * Status codes: OK; INVALID_ARGUMENT; RESOURCE_EXHAUSTED (catalog capacity,
   * or too many changes waiting for the catalog log); UNAVAILABLE (not ready,
   * shutting down, or the catalog log write failed).
   */
  upsertItems(argument: _ranking_v1_UpsertItemsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_UpsertItemsResponse__Output>): grpc.ClientUnaryCall;
  upsertItems(argument: _ranking_v1_UpsertItemsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranking_v1_UpsertItemsResponse__Output>): grpc.ClientUnaryCall;
  upsertItems(argument: _ranking_v1_UpsertItemsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranking_v1_UpsertItemsResponse__Output>): grpc.ClientUnaryCall;
  upsertItems(argument: _ranking_v1_UpsertItemsRequest, callback: grpc.requestCallback<_ranking_v1_UpsertItemsResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * RankingService ranks items for one user on one surface through the cascade
 * retrieval -> pre-rank -> rank -> ensemble -> policy, and takes the events
 * and catalog changes that the next ranking must reflect.
 */
export interface RankingServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Removes catalog items; they are never returned again, also after a
   * ReloadBundle of a bundle built before the delete or a restart with the
   * catalog log (same logging and supersede rule as UpsertItems). Ids the
   * serving bundle does not know are listed in unknown_item_ids and are
   * still deleted from later bundles.
   * Status codes: OK; INVALID_ARGUMENT; RESOURCE_EXHAUSTED (too many changes
   * waiting for the catalog log); UNAVAILABLE.
   */
  DeleteItems: grpc.handleUnaryCall<_ranking_v1_DeleteItemsRequest__Output, _ranking_v1_DeleteItemsResponse>;
  
  /**
   * Ranks items for a user in a context.
   * Status codes: OK; INVALID_ARGUMENT (a field is invalid: the message names
   * it); UNAVAILABLE (no bundle loaded yet, or shutting down);
   * RESOURCE_EXHAUSTED (queues full: retry after the delay in the
   * "retry-after-ms" trailer); DEADLINE_EXCEEDED; INTERNAL.
   */
  Rank: grpc.handleUnaryCall<_ranking_v1_RankRequest__Output, _ranking_v1_RankResponse>;
  
  /**
   * Records user actions. Acknowledges only what was applied: the next Rank
   * for the user reflects every event of an OK response.
   * Status codes: OK; INVALID_ARGUMENT; RESOURCE_EXHAUSTED; UNAVAILABLE.
   */
  RecordEvents: grpc.handleUnaryCall<_ranking_v1_RecordEventsRequest__Output, _ranking_v1_RecordEventsResponse>;
  
  /**
   * Loads a bundle beside the serving one, validates and warms it, then swaps
   * atomically: in-flight calls finish on the old bundle, the catalog changes
   * (UpsertItems, DeleteItems) the new bundle does not supersede are
   * re-applied to it, and the events recorded since start are replayed into
   * it. Changes the new bundle supersedes (its createdAt is later) are
   * forgotten once it serves. UpsertItems and DeleteItems need the same admin
   * credentials.
   * Status codes: OK; INVALID_ARGUMENT (path outside the bundle root, or an
   * invalid bundle: the message names the file); UNAUTHENTICATED (no
   * credentials); PERMISSION_DENIED (wrong credentials, or admin calls
   * disabled); FAILED_PRECONDITION (a reload is already running);
   * RESOURCE_EXHAUSTED (the new bundle has no room for the upserted items).
   */
  ReloadBundle: grpc.handleUnaryCall<_ranking_v1_ReloadBundleRequest__Output, _ranking_v1_ReloadBundleResponse>;
  
  /**
   * Adds or replaces catalog items; they are retrievable by the next Rank.
   * OK only once the change is logged (durably with --catalog-log, else in
   * memory): it is re-applied to every bundle loaded later (ReloadBundle,
   * SIGHUP, a restart with the catalog log) unless that bundle supersedes it,
   * i.e. its manifest createdAt is later than the change and than the
   * createdAt of the bundle the change was made on (a bundle built after the
   * change is taken to contain it).
   * Status codes: OK; INVALID_ARGUMENT; RESOURCE_EXHAUSTED (catalog capacity,
   * or too many changes waiting for the catalog log); UNAVAILABLE (not ready,
   * shutting down, or the catalog log write failed).
   */
  UpsertItems: grpc.handleUnaryCall<_ranking_v1_UpsertItemsRequest__Output, _ranking_v1_UpsertItemsResponse>;
  
}

export interface RankingServiceDefinition extends grpc.ServiceDefinition {
  DeleteItems: MethodDefinition<_ranking_v1_DeleteItemsRequest, _ranking_v1_DeleteItemsResponse, _ranking_v1_DeleteItemsRequest__Output, _ranking_v1_DeleteItemsResponse__Output>
  Rank: MethodDefinition<_ranking_v1_RankRequest, _ranking_v1_RankResponse, _ranking_v1_RankRequest__Output, _ranking_v1_RankResponse__Output>
  RecordEvents: MethodDefinition<_ranking_v1_RecordEventsRequest, _ranking_v1_RecordEventsResponse, _ranking_v1_RecordEventsRequest__Output, _ranking_v1_RecordEventsResponse__Output>
  ReloadBundle: MethodDefinition<_ranking_v1_ReloadBundleRequest, _ranking_v1_ReloadBundleResponse, _ranking_v1_ReloadBundleRequest__Output, _ranking_v1_ReloadBundleResponse__Output>
  UpsertItems: MethodDefinition<_ranking_v1_UpsertItemsRequest, _ranking_v1_UpsertItemsResponse, _ranking_v1_UpsertItemsRequest__Output, _ranking_v1_UpsertItemsResponse__Output>
}
