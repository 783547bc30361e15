/**
 * The Agora SDK. Pure math (ranking/) imports no chain code; chain/ reads and writes contracts.
 * Stable names of SPEC §6 are exported here with these names.
 */
export { AgoraError, InvalidInputError, DeploymentNotFoundError } from "./errors";
export { formatTable, formatTokens, formatPercent } from "./format";

// ranking: pure
export { computeEpoch } from "./ranking/epoch";
export type { EpochInput, EpochParams, EpochResult } from "./ranking/epoch";
export { cabalDecay, cabalDecayClipped } from "./ranking/cabal";
export { normalizeRow, packRow, unpackRow, unpackRows, sparseRow, emaWeight, wordsFor, ROW_TOTAL, weightsFromFloats, parseWeightsFile } from "./ranking/weights";
export { buildEmissionTree, EMISSION_LEAF_ENCODING } from "./ranking/merkle";
export type { EmissionTree } from "./ranking/merkle";
export { resultCommitment } from "./ranking/commitment";
export type { CommitmentContext } from "./ranking/commitment";
export type { ReachRelation } from "./ranking/visits";
export { mulberry32, tightlyConnected, disjointGroups, newcomersOnCore, randomSparse } from "./ranking/generators";

// chain
export { readAddressBook, writeAddressBook, contractAddress, addressBookPath, DEFAULT_DEPLOYMENTS_DIR } from "./chain/addressBook";
export type { AddressBook, DeployedContract } from "./chain/addressBook";
export {
  rankingMarket,
  readEpochSnapshot,
  computeEpochOnChain,
  advanceValidator,
  statusForNextBlock,
  validatorSalt,
  EpochStatus,
  ValidatorError,
  CLAIM_BATCH,
  runValidator,
  formatEpochReport,
  registerPeer,
  stakeOn,
  voteStake,
  unrevealedCommitments,
  formerUidAt,
} from "./chain/ranking";
export { ensureAllowance } from "./chain/allowance";
export type { EpochSnapshot, ValidatorAction, EpochCache, EpochReport, ValidatorLoopOptions } from "./chain/ranking";
export { decodeRevert, isRevert } from "./chain/revert";
export { mineTo } from "./chain/devnet";

// job market: pure
export {
  JCNDU,
  RPNDU,
  RPNDUD,
  protocolU,
  NDU,
  JCmixed,
  RPmixed,
  qValue,
  getQ,
  QInflection,
  RPQFinder,
  requestedPrice,
} from "./market/notebook";
export {
  maxNonDeterminismGain,
  nonDeterminismGainOnGrid,
  recommendParameters,
  expectedJobUtilities,
  jobOutcomes,
  disputesJunk,
} from "./market/economics";
export type { JobStrategies, JobOutcome, Recommendation, RecommendationInput } from "./market/economics";
export { planMatches, matchRefusal } from "./market/solver";
export { maxWeightMatching } from "./market/matching";
export { specHash, runProgram, answerClasses, resultHash } from "./market/programs";
export type { JobSpec } from "./market/programs";

// job market: chain
export {
  jobMarket,
  registerMediator,
  mediatorTerms,
  postJobOffer,
  postResourceOffer,
  cancelJobOffer,
  cancelResourceOffer,
  openJobOffers,
  openResourceOffers,
  postMatch,
  readMatch,
  postResult,
  acceptResult,
  rejectResult,
  mediate,
  timeout,
  claimShare,
  withdrawCredits,
  deposits,
  jobEscrow,
  verdictPayouts,
  MatchState,
  Verdict,
} from "./chain/jobs";
export type { JobOffer, JobRequest, ResourceOffer, ResourceRequest, MatchTerms, MediatorTerms, MatchView } from "./chain/jobs";
export { JobCreatorBot, ResourceProviderBot, MediatorBot, SolverBot, MarketIndex } from "./chain/agents";

// delegation
export { delegationParameters, blockSize, delta1Of, providerDelta, providerTerm } from "./delegation/parameters";
export type { DelegationConfig, DelegationParameters, ModelSpec } from "./delegation/parameters";
export { DelegationMechanism } from "./delegation/mechanism";
export type { Phase as DelegationPhase, Plan as DelegationPlan, Outcome as DelegationOutcome, MechanismConfig } from "./delegation/mechanism";
export { simulateDelegation, deviationTable, STRATEGIES } from "./delegation/simulate";
export type { Strategy, SimulationConfig, SimulationResult, DeviationRow } from "./delegation/simulate";
export { NOTEBOOK_MODELS, NOTEBOOK_OTHERS, toyGame } from "./delegation/toy";
export { delegationMarket, registerModels, openSession, runDelegationSession, SessionPhase } from "./chain/delegation";
export type { SessionSummary, SessionProvider, SessionRunConfig } from "./chain/delegation";

// collaboration contracts
export { accuracy, accuracySlope, valuation, outsideOption, expectations, VALUE_SCALE } from "./collaboration/model";
export type { Expectations } from "./collaboration/model";
export { solveContract, solveCompleteInformation, informationRent, realizedReward, InfeasibleContractError } from "./collaboration/solve";
export type { ContractConfig, Contract as CollaborationContract, Binding } from "./collaboration/solve";
export { collaborationRound, menuOf, createRound, joinRound, RoundState } from "./chain/collaboration";
