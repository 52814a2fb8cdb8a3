/** Greedy and beam search over the `SearchModel` interface (no GPU code here). */
export { greedy } from './greedy';
export { beamSearch } from './beam';
export { argmaxF32, candidateBefore, compareCandidates, logSoftmaxF32, topKCandidates } from './reference';
export type {
  BeamSearchOptions,
  BeamSearchResult,
  BeamStepInfo,
  Candidate,
  EarlyStopping,
  FinishReason,
  GreedyOptions,
  GreedyResult,
  Hypothesis,
  SearchModel,
} from './types';
