// The default cascade, as data: an ordered list of stages.
import type { Stage } from '../pipeline/context';
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

/** The default cascade's stage ids, and which of them a rank profile may leave out (those with a stand-in). */
export const CASCADE_STAGES: readonly { id: string; optional: boolean }[] = defaultCascade({ seenTtlMs: 0, purchaseWindowMs: 0 }).map((s) => ({
  id: s.id,
  optional: s.skip !== undefined,
}));
