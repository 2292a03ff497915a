// The typed client of ranking.v1.RankingService: promise methods over the
// grpc-js client that @grpc/proto-loader builds from the proto, typed with the
// types proto-loader-gen-types generated from the same proto
// (src/client/generated/, `npm run gen:client`). Requests are the generated
// input types (enums by name or number, 64-bit integers as numbers);
// responses are the `__Output` types, as LOADER_OPTIONS decodes them (every
// field present, enums as names). A failed call rejects with the
// grpc.ServiceError grpc-js produced (code, details, metadata).
//
// This module loads nothing of the engine: only grpc-js, proto-loader (through
// src/api/proto.ts), node built-ins and the generated types.
import * as grpc from '@grpc/grpc-js';

import { loadProto } from '../api/proto';
import type { ProtoGrpcType } from './generated/ranking';
import type { DeleteItemsRequest } from './generated/ranking/v1/DeleteItemsRequest';
import type { DeleteItemsResponse__Output } from './generated/ranking/v1/DeleteItemsResponse';
import type { RankingServiceClient } from './generated/ranking/v1/RankingService';
import type { RankRequest } from './generated/ranking/v1/RankRequest';
import type { RankResponse__Output } from './generated/ranking/v1/RankResponse';
import type { RecordEventsRequest } from './generated/ranking/v1/RecordEventsRequest';
import type { RecordEventsResponse__Output } from './generated/ranking/v1/RecordEventsResponse';
import type { ReloadBundleRequest } from './generated/ranking/v1/ReloadBundleRequest';
import type { ReloadBundleResponse__Output } from './generated/ranking/v1/ReloadBundleResponse';
import type { UpsertItemsRequest } from './generated/ranking/v1/UpsertItemsRequest';
import type { UpsertItemsResponse__Output } from './generated/ranking/v1/UpsertItemsResponse';

export type { ProtoGrpcType } from './generated/ranking';
export type { RankingServiceClient, RankingServiceDefinition, RankingServiceHandlers } from './generated/ranking/v1/RankingService';
export type { Action, Action__Output } from './generated/ranking/v1/Action';
export type { ActionType, ActionType__Output } from './generated/ranking/v1/ActionType';
export type { Context, Context__Output } from './generated/ranking/v1/Context';
export type { DeleteItemsRequest, DeleteItemsRequest__Output } from './generated/ranking/v1/DeleteItemsRequest';
export type { DeleteItemsResponse, DeleteItemsResponse__Output } from './generated/ranking/v1/DeleteItemsResponse';
export type { Device, Device__Output } from './generated/ranking/v1/Device';
export type { DiversityMethod, DiversityMethod__Output } from './generated/ranking/v1/DiversityMethod';
export type { Event, Event__Output } from './generated/ranking/v1/Event';
export type { ExplorationMethod, ExplorationMethod__Output } from './generated/ranking/v1/ExplorationMethod';
export type { Item, Item__Output } from './generated/ranking/v1/Item';
export type { ObjectiveScore, ObjectiveScore__Output } from './generated/ranking/v1/ObjectiveScore';
export type { Provenance, Provenance__Output } from './generated/ranking/v1/Provenance';
export type { RankedItem, RankedItem__Output } from './generated/ranking/v1/RankedItem';
export type { RankRequest, RankRequest__Output } from './generated/ranking/v1/RankRequest';
export type { RankResponse, RankResponse__Output } from './generated/ranking/v1/RankResponse';
export type { RecordEventsRequest, RecordEventsRequest__Output } from './generated/ranking/v1/RecordEventsRequest';
export type { RecordEventsResponse, RecordEventsResponse__Output } from './generated/ranking/v1/RecordEventsResponse';
export type { ReloadBundleRequest, ReloadBundleRequest__Output } from './generated/ranking/v1/ReloadBundleRequest';
export type { ReloadBundleResponse, ReloadBundleResponse__Output } from './generated/ranking/v1/ReloadBundleResponse';
export type { RemovedCandidate, RemovedCandidate__Output } from './generated/ranking/v1/RemovedCandidate';
export type { StageDebug, StageDebug__Output } from './generated/ranking/v1/StageDebug';
export type { StageOptions, StageOptions__Output } from './generated/ranking/v1/StageOptions';
export type { StageScore, StageScore__Output } from './generated/ranking/v1/StageScore';
export type { Surface, Surface__Output } from './generated/ranking/v1/Surface';
export type { UpsertItemsRequest, UpsertItemsRequest__Output } from './generated/ranking/v1/UpsertItemsRequest';
export type { UpsertItemsResponse, UpsertItemsResponse__Output } from './generated/ranking/v1/UpsertItemsResponse';

let loaded: ProtoGrpcType | undefined;

/**
 * The proto's package tree as grpc-js builds it (client constructors with
 * their service definitions, message and enum definitions), loaded once.
 */
export function rankingPackage(): ProtoGrpcType {
  // loadPackageDefinition returns an untyped GrpcObject. ProtoGrpcType is its
  // shape for this proto loaded with LOADER_OPTIONS, the options the types
  // were generated with (test/client/generated.test.ts keeps the two in
  // step); TypeScript cannot relate the two types, hence the double cast.
  loaded ??= grpc.loadPackageDefinition(loadProto()) as unknown as ProtoGrpcType;
  return loaded;
}

export interface RankingClientOptions {
  /** Default: insecure (plaintext). */
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  /** Deadline in ms from the start of a call, for calls made without a deadline (default: none). */
  deadlineMs?: number;
}

export interface RankingCallOptions {
  /** A Date, or milliseconds since the epoch. */
  deadline?: grpc.Deadline;
  metadata?: grpc.Metadata;
}

type Callback<Res> = grpc.requestCallback<Res>;

/** A promise client of ranking.v1.RankingService on one channel. */
export class RankingClient {
  /** The generated grpc-js client, for call objects (cancel, status events) and callback calls. */
  readonly raw: RankingServiceClient;
  private readonly deadlineMs: number | undefined;

  constructor(target: string, opts: RankingClientOptions = {}) {
    const { RankingService } = rankingPackage().ranking.v1;
    this.raw = new RankingService(target, opts.credentials ?? grpc.credentials.createInsecure(), opts.channelOptions);
    this.deadlineMs = opts.deadlineMs;
  }

  rank(req: RankRequest, opts?: RankingCallOptions): Promise<RankResponse__Output> {
    return this.unary<RankResponse__Output>((md, o, cb) => this.raw.Rank(req, md, o, cb), opts);
  }

  recordEvents(req: RecordEventsRequest, opts?: RankingCallOptions): Promise<RecordEventsResponse__Output> {
    return this.unary<RecordEventsResponse__Output>((md, o, cb) => this.raw.RecordEvents(req, md, o, cb), opts);
  }

  upsertItems(req: UpsertItemsRequest, opts?: RankingCallOptions): Promise<UpsertItemsResponse__Output> {
    return this.unary<UpsertItemsResponse__Output>((md, o, cb) => this.raw.UpsertItems(req, md, o, cb), opts);
  }

  deleteItems(req: DeleteItemsRequest, opts?: RankingCallOptions): Promise<DeleteItemsResponse__Output> {
    return this.unary<DeleteItemsResponse__Output>((md, o, cb) => this.raw.DeleteItems(req, md, o, cb), opts);
  }

  reloadBundle(req: ReloadBundleRequest, opts?: RankingCallOptions): Promise<ReloadBundleResponse__Output> {
    return this.unary<ReloadBundleResponse__Output>((md, o, cb) => this.raw.ReloadBundle(req, md, o, cb), opts);
  }

  /** Closes the channel; calls in flight end with CANCELLED. */
  close(): void {
    this.raw.close();
  }

  private unary<Res>(start: (md: grpc.Metadata, o: grpc.CallOptions, cb: Callback<Res>) => grpc.ClientUnaryCall, opts: RankingCallOptions = {}): Promise<Res> {
    const deadline = opts.deadline ?? (this.deadlineMs === undefined ? undefined : Date.now() + this.deadlineMs);
    return new Promise<Res>((resolve, reject) => {
      start(opts.metadata ?? new grpc.Metadata(), deadline === undefined ? {} : { deadline }, (err, res) => {
        if (err) reject(err);
        // grpc-js passes the decoded message with every OK status.
        else if (res === undefined) reject(new Error('an OK call without a response message'));
        else resolve(res);
      });
    });
  }
}
