// The default cascade, as data: an ordered list of stages.
import type { Stage } from '../context';
import { ensembleStage } from './ensemble';
import { policyStage, PolicyConfig } from './policy';
import { prerankStage } from './prerank';
import { rankStage } from './rank';
import { retrievalStage } from './retrieval';
import { userEmbeddingStage } from './user-embedding';
import { userStateStage } from './user-state';

export type { PolicyConfig } from './policy';

export function defaultCascade(policy: PolicyConfig): Stage[] {
  return [userStateStage, userEmbeddingStage, retrievalStage, prerankStage, rankStage, ensembleStage, policyStage(policy)];
}
