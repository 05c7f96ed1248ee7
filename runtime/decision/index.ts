export {
  decide,
  initialDecisionState,
  resolveDecisionConfig,
  DecisionEngine,
  DEFAULT_DECISION_CONFIG,
} from './decide.js';
export type { DecisionConfig, DecisionInput, DecisionOutput, DecisionReason, DecisionState } from './decide.js';
