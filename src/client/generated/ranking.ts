import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Action as _ranking_v1_Action, Action__Output as _ranking_v1_Action__Output } from './ranking/v1/Action';
import type { Context as _ranking_v1_Context, Context__Output as _ranking_v1_Context__Output } from './ranking/v1/Context';
import type { DeleteItemsRequest as _ranking_v1_DeleteItemsRequest, DeleteItemsRequest__Output as _ranking_v1_DeleteItemsRequest__Output } from './ranking/v1/DeleteItemsRequest';
import type { DeleteItemsResponse as _ranking_v1_DeleteItemsResponse, DeleteItemsResponse__Output as _ranking_v1_DeleteItemsResponse__Output } from './ranking/v1/DeleteItemsResponse';
import type { Event as _ranking_v1_Event, Event__Output as _ranking_v1_Event__Output } from './ranking/v1/Event';
import type { Item as _ranking_v1_Item, Item__Output as _ranking_v1_Item__Output } from './ranking/v1/Item';
import type { ObjectiveScore as _ranking_v1_ObjectiveScore, ObjectiveScore__Output as _ranking_v1_ObjectiveScore__Output } from './ranking/v1/ObjectiveScore';
import type { RankRequest as _ranking_v1_RankRequest, RankRequest__Output as _ranking_v1_RankRequest__Output } from './ranking/v1/RankRequest';
import type { RankResponse as _ranking_v1_RankResponse, RankResponse__Output as _ranking_v1_RankResponse__Output } from './ranking/v1/RankResponse';
import type { RankedItem as _ranking_v1_RankedItem, RankedItem__Output as _ranking_v1_RankedItem__Output } from './ranking/v1/RankedItem';
import type { RankingServiceClient as _ranking_v1_RankingServiceClient, RankingServiceDefinition as _ranking_v1_RankingServiceDefinition } from './ranking/v1/RankingService';
import type { RecordEventsRequest as _ranking_v1_RecordEventsRequest, RecordEventsRequest__Output as _ranking_v1_RecordEventsRequest__Output } from './ranking/v1/RecordEventsRequest';
import type { RecordEventsResponse as _ranking_v1_RecordEventsResponse, RecordEventsResponse__Output as _ranking_v1_RecordEventsResponse__Output } from './ranking/v1/RecordEventsResponse';
import type { ReloadBundleRequest as _ranking_v1_ReloadBundleRequest, ReloadBundleRequest__Output as _ranking_v1_ReloadBundleRequest__Output } from './ranking/v1/ReloadBundleRequest';
import type { ReloadBundleResponse as _ranking_v1_ReloadBundleResponse, ReloadBundleResponse__Output as _ranking_v1_ReloadBundleResponse__Output } from './ranking/v1/ReloadBundleResponse';
import type { RemovedCandidate as _ranking_v1_RemovedCandidate, RemovedCandidate__Output as _ranking_v1_RemovedCandidate__Output } from './ranking/v1/RemovedCandidate';
import type { StageDebug as _ranking_v1_StageDebug, StageDebug__Output as _ranking_v1_StageDebug__Output } from './ranking/v1/StageDebug';
import type { StageOptions as _ranking_v1_StageOptions, StageOptions__Output as _ranking_v1_StageOptions__Output } from './ranking/v1/StageOptions';
import type { StageScore as _ranking_v1_StageScore, StageScore__Output as _ranking_v1_StageScore__Output } from './ranking/v1/StageScore';
import type { UpsertItemsRequest as _ranking_v1_UpsertItemsRequest, UpsertItemsRequest__Output as _ranking_v1_UpsertItemsRequest__Output } from './ranking/v1/UpsertItemsRequest';
import type { UpsertItemsResponse as _ranking_v1_UpsertItemsResponse, UpsertItemsResponse__Output as _ranking_v1_UpsertItemsResponse__Output } from './ranking/v1/UpsertItemsResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  ranking: {
    v1: {
      Action: MessageTypeDefinition<_ranking_v1_Action, _ranking_v1_Action__Output>
      ActionType: EnumTypeDefinition
      Context: MessageTypeDefinition<_ranking_v1_Context, _ranking_v1_Context__Output>
      DeleteItemsRequest: MessageTypeDefinition<_ranking_v1_DeleteItemsRequest, _ranking_v1_DeleteItemsRequest__Output>
      DeleteItemsResponse: MessageTypeDefinition<_ranking_v1_DeleteItemsResponse, _ranking_v1_DeleteItemsResponse__Output>
      Device: EnumTypeDefinition
      DiversityMethod: EnumTypeDefinition
      EnsembleMethod: EnumTypeDefinition
      Event: MessageTypeDefinition<_ranking_v1_Event, _ranking_v1_Event__Output>
      ExplorationMethod: EnumTypeDefinition
      Item: MessageTypeDefinition<_ranking_v1_Item, _ranking_v1_Item__Output>
      ObjectiveScore: MessageTypeDefinition<_ranking_v1_ObjectiveScore, _ranking_v1_ObjectiveScore__Output>
      Provenance: EnumTypeDefinition
      RankRequest: MessageTypeDefinition<_ranking_v1_RankRequest, _ranking_v1_RankRequest__Output>
      RankResponse: MessageTypeDefinition<_ranking_v1_RankResponse, _ranking_v1_RankResponse__Output>
      RankedItem: MessageTypeDefinition<_ranking_v1_RankedItem, _ranking_v1_RankedItem__Output>
      /**
       * RankingService ranks items for one user on one surface through the cascade
       * retrieval -> pre-rank -> rank -> ensemble -> policy, and takes the events
       * and catalog changes that the next ranking must reflect.
       */
      RankingService: SubtypeConstructor<typeof grpc.Client, _ranking_v1_RankingServiceClient> & { service: _ranking_v1_RankingServiceDefinition }
      RecordEventsRequest: MessageTypeDefinition<_ranking_v1_RecordEventsRequest, _ranking_v1_RecordEventsRequest__Output>
      RecordEventsResponse: MessageTypeDefinition<_ranking_v1_RecordEventsResponse, _ranking_v1_RecordEventsResponse__Output>
      ReloadBundleRequest: MessageTypeDefinition<_ranking_v1_ReloadBundleRequest, _ranking_v1_ReloadBundleRequest__Output>
      ReloadBundleResponse: MessageTypeDefinition<_ranking_v1_ReloadBundleResponse, _ranking_v1_ReloadBundleResponse__Output>
      RemovedCandidate: MessageTypeDefinition<_ranking_v1_RemovedCandidate, _ranking_v1_RemovedCandidate__Output>
      StageDebug: MessageTypeDefinition<_ranking_v1_StageDebug, _ranking_v1_StageDebug__Output>
      StageOptions: MessageTypeDefinition<_ranking_v1_StageOptions, _ranking_v1_StageOptions__Output>
      StageScore: MessageTypeDefinition<_ranking_v1_StageScore, _ranking_v1_StageScore__Output>
      Surface: EnumTypeDefinition
      UpsertItemsRequest: MessageTypeDefinition<_ranking_v1_UpsertItemsRequest, _ranking_v1_UpsertItemsRequest__Output>
      UpsertItemsResponse: MessageTypeDefinition<_ranking_v1_UpsertItemsResponse, _ranking_v1_UpsertItemsResponse__Output>
    }
  }
}

