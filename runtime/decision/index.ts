export {
  decide,
  initialDecisionState,
  resolveDecisionConfig,
  DecisionEngine,
  DEFAULT_DECISION_CONFIG,
  decisionConfigFrom,
} from './decide.js';
export type { GroupScore, Warmup, DecisionConfig, DecisionInput, DecisionOutput, DecisionReason, DecisionState } from './decide.js';
