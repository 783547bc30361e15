// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TokenCredits} from "../token/TokenCredits.sol";
import {MediatorRegistry} from "./MediatorRegistry.sol";

/// @title JobMarket
/// @notice Outsourced computation with mediation (SPEC §2, MODICUM): job creators (JC) and resource
/// providers (RP) post offers with escrow, any solver matches them for the match fees, the RP posts
/// a result, the JC accepts or rejects it, and a rejection is settled by the mediator re-running
/// the job n times. Every state waits with a deadline and has a permissionless timeout, and every
/// deadline is one its party consented to: the JC chose its windows and agreed to the mediator's
/// terms, the RP's offer states the windows and mediator price it accepts, the mediator states its
/// longest job, and the protocol bounds every window (`windowBounds`).
/// @dev Money per match (P price, D = P*PR*n the deposit of each side, N = P*NDPR*n the JC's
/// non-determinism deposit, B the mediator's bond): escrow P + D + N from the JC and D from the RP
/// is paid out entirely by the verdict table (`payouts`). Each party takes its share with
/// `claimShare` (the JC when it accepts and the mediator when it rules take theirs at once).
/// Invariant: token.balanceOf(this) == open offer escrows + escrows of open matches + unclaimed
/// shares of closed matches + credits + mediator bonds (free and locked) + mediator earnings.
contract JobMarket is MediatorRegistry {
    /// @notice Most mediators a resource offer may trust (bounds the loop of `postMatch`).
    uint256 public constant MAX_TRUSTED_MEDIATORS = 16;

    /// @notice What a JC chooses when it posts a job; the contract adds its address. `terms` are the
    /// mediator's terms the JC agrees to: the job is refused if the mediator's current ones differ.
    struct JobRequest {
        address mediator;
        bytes32 specHash;
        uint64 instructions;
        uint64 bandwidth;
        uint64 expiry;
        uint32 resultTime;
        uint32 reactionTime;
        uint96 price;
        uint96 matchFee;
        MediatorTerms terms;
    }

    struct Counters {
        uint64 jobs;
        uint64 offers;
        uint64 matches;
        // Set at deployment so the slot is never zero: the first job then pays for an update of
        // it, not for its creation.
        uint64 deployedAt;
    }

    Counters private _counters;
    mapping(uint256 jobId => bytes32) private _jobOffers;
    mapping(uint256 offerId => bytes32) private _resourceOffers;
    // Keyed by keccak256(abi.encode(matchId, terms)): terms that differ in any bit find no match.
    mapping(bytes32 matchKey => MatchStatus) private _matches;
    mapping(bytes32 matchKey => bytes32) private _results;

    /// @notice Deploys the market for `token_` with the protocol's window bounds.
    /// @param token_ the token every amount is in.
    /// @param bounds the floor and ceiling of the result, reaction and mediation windows (seconds).
    constructor(IERC20 token_, WindowBounds memory bounds) TokenCredits(token_) MediatorRegistry(bounds) {
        _counters.deployedAt = uint64(block.timestamp);
    }

    // ------------------------------------------------------------------ offers

    /// @notice Posts a job offer and escrows P + D_J + N_J + matchFee + the mediator's JC price.
    /// The result and reaction windows must be within the protocol's bounds, the mediator's current
    /// terms must be `request.terms`, and the whole job (result + reaction + mediation windows) must
    /// fit the mediator's longest job.
    /// @return jobId the offer's id; the full offer is in the JobOfferPosted event.
    /// @param request the job; the JC is the caller.
    function postJobOffer(JobRequest calldata request) external nonReentrant returns (uint256 jobId) {
        if (request.price == 0) revert InvalidOffer("price is zero");
        if (request.expiry <= block.timestamp) revert InvalidOffer("expiry is not in the future");
        _checkWindow(Window.Result, request.resultTime);
        _checkWindow(Window.Reaction, request.reactionTime);
        if (_termsHash(request.terms) != _activeMediator(request.mediator).termsHash) {
            revert MediatorTermsChanged(request.mediator);
        }
        MediatorTerms calldata current = request.terms;
        uint256 jobTime = uint256(request.resultTime) + request.reactionTime + current.mediationTime;
        if (jobTime > current.maxJobTime) revert JobTooLongForMediator(request.mediator, jobTime, current.maxJobTime);
        JobOffer memory offer = JobOffer({
            jc: msg.sender,
            mediator: request.mediator,
            specHash: request.specHash,
            instructions: request.instructions,
            bandwidth: request.bandwidth,
            expiry: request.expiry,
            resultTime: request.resultTime,
            reactionTime: request.reactionTime,
            price: request.price,
            matchFee: request.matchFee,
            terms: current
        });
        (uint256 deposit, uint256 ndDeposit) = deposits(offer.price, offer.terms);
        if (deposit > type(uint96).max) revert AmountTooLarge(deposit, type(uint96).max);
        if (ndDeposit > type(uint96).max) revert AmountTooLarge(ndDeposit, type(uint96).max);
        uint256 escrow = jobEscrow(offer);
        jobId = ++_counters.jobs;
        _jobOffers[jobId] = keccak256(abi.encode(jobId, offer));
        _pull(msg.sender, escrow);
        emit JobOfferPosted(jobId, offer, escrow);
    }

    /// @notice Cancels an unmatched job offer; the escrow is credited back to the JC.
    /// @param jobId the offer's id.
    /// @param offer the offer as in its JobOfferPosted event.
    function cancelJobOffer(uint256 jobId, JobOffer calldata offer) external {
        _takeJobOffer(jobId, offer);
        if (msg.sender != offer.jc) revert NotOfferOwner(offer.jc, msg.sender);
        _credit(offer.jc, jobEscrow(offer));
        emit JobOfferClosed(jobId, false);
    }

    /// @notice After its expiry anyone may close an unmatched job offer; the escrow goes back to the JC.
    /// @param jobId the offer's id.
    /// @param offer the offer as in its JobOfferPosted event.
    function expireJobOffer(uint256 jobId, JobOffer calldata offer) external {
        _takeJobOffer(jobId, offer);
        if (block.timestamp <= offer.expiry) revert NotExpiredYet(jobId, offer.expiry, block.timestamp);
        _credit(offer.jc, jobEscrow(offer));
        emit JobOfferClosed(jobId, true);
    }

    /// @notice Posts a resource offer and escrows deposit + matchFee. `offer.rp` is ignored: the
    /// caller is the RP.
    /// @return offerId the offer's id; the full offer is in the ResourceOfferPosted event.
    /// @param request the offer.
    function postResourceOffer(ResourceOffer calldata request) external nonReentrant returns (uint256 offerId) {
        if (request.expiry <= block.timestamp) revert InvalidOffer("expiry is not in the future");
        if (request.trustedMediators.length > MAX_TRUSTED_MEDIATORS) {
            revert TooManyTrustedMediators(request.trustedMediators.length, MAX_TRUSTED_MEDIATORS);
        }
        ResourceOffer memory offer = request;
        offer.rp = msg.sender;
        uint256 escrow = uint256(offer.deposit) + offer.matchFee;
        offerId = ++_counters.offers;
        _resourceOffers[offerId] = keccak256(abi.encode(offerId, offer));
        _pull(msg.sender, escrow);
        emit ResourceOfferPosted(offerId, offer, escrow);
    }

    /// @notice Cancels an unmatched resource offer; deposit and fee are credited back to the RP.
    /// @param offerId the offer's id.
    /// @param offer the offer as in its ResourceOfferPosted event.
    function cancelResourceOffer(uint256 offerId, ResourceOffer calldata offer) external {
        _takeResourceOffer(offerId, offer);
        if (msg.sender != offer.rp) revert NotOfferOwner(offer.rp, msg.sender);
        _credit(offer.rp, uint256(offer.deposit) + offer.matchFee);
        emit ResourceOfferClosed(offerId, false);
    }

    /// @notice After its expiry anyone may close an unmatched resource offer; the escrow goes back to the RP.
    /// @param offerId the offer's id.
    /// @param offer the offer as in its ResourceOfferPosted event.
    function expireResourceOffer(uint256 offerId, ResourceOffer calldata offer) external {
        _takeResourceOffer(offerId, offer);
        if (block.timestamp <= offer.expiry) revert NotExpiredYet(offerId, offer.expiry, block.timestamp);
        _credit(offer.rp, uint256(offer.deposit) + offer.matchFee);
        emit ResourceOfferClosed(offerId, true);
    }

    // ------------------------------------------------------------------ match

    /// @notice Matches a job with a resource offer (SPEC §2.1). Valid iff P >= requested price, the
    /// RP trusts the job's mediator, the capacity covers the job, the job is within the offer's
    /// limits (result window at least its minimum, reaction and mediation windows and the
    /// mediator's RP price at most its maxima), the mediator is registered with a free bond, and the
    /// RP's deposit covers D_R = P * PR * n plus the mediator's RP price (the excess is credited back). The caller (solver) is paid both match fees at once; the
    /// mediator earns both availability prices (withdrawMediatorEarnings).
    /// @param jobId the job offer's id.
    /// @param job the job offer as in its JobOfferPosted event.
    /// @param offerId the resource offer's id.
    /// @param offer the resource offer as in its ResourceOfferPosted event.
    /// @return matchId the match's id; its terms are in the MatchPosted event.
    function postMatch(
        uint256 jobId,
        JobOffer calldata job,
        uint256 offerId,
        ResourceOffer calldata offer
    ) external nonReentrant returns (uint256 matchId) {
        _takeJobOffer(jobId, job);
        _takeResourceOffer(offerId, offer);
        _checkMatch(jobId, job, offerId, offer);
        MatchTerms memory terms = _matchTerms(jobId, job, offerId, offer);
        uint256 rpNeed = uint256(terms.deposit) + job.terms.rpPrice;
        if (offer.deposit < rpNeed) revert DepositTooLow(rpNeed, offer.deposit);

        MediatorRecord storage m = _mediators[job.mediator];
        m.freeBond -= job.terms.bond;
        ++m.openJobs;
        m.earnings = _toUint96(uint256(m.earnings) + job.terms.jcPrice + job.terms.rpPrice);
        matchId = ++_counters.matches;
        uint64 deadline = uint64(block.timestamp) + job.resultTime;
        _matches[_matchKey(matchId, terms)] = MatchStatus({
            deadline: deadline,
            state: MatchState.AwaitingResult,
            verdict: Verdict.None,
            claimed: 0
        });
        _credit(offer.rp, offer.deposit - rpNeed);
        uint256 solverFee = uint256(job.matchFee) + offer.matchFee;
        emit MatchPosted(matchId, terms, msg.sender, solverFee, deadline);
        // The caller is the solver: it takes its fees now rather than through a credit.
        _pay(msg.sender, solverFee);
    }

    // ------------------------------------------------------------------ result and verdict

    /// @notice The RP posts the hash of its result before the result deadline.
    /// @param matchId the match.
    /// @param terms the match's terms as in its MatchPosted event.
    /// @param resultHash the hash of the result.
    function postResult(uint256 matchId, MatchTerms calldata terms, bytes32 resultHash) external {
        (MatchStatus storage s, bytes32 key) = _status(matchId, terms, MatchState.AwaitingResult);
        if (msg.sender != terms.rp) revert NotParty(matchId, msg.sender);
        _beforeDeadline(matchId, s.deadline);
        _results[key] = resultHash;
        uint64 deadline = uint64(block.timestamp) + terms.reactionTime;
        s.state = MatchState.ResultPosted;
        s.deadline = deadline;
        emit ResultPosted(matchId, resultHash, deadline);
    }

    /// @notice The JC accepts the result before the reaction deadline; its share is paid at once.
    /// @param matchId the match.
    /// @param terms the match's terms as in its MatchPosted event.
    function acceptResult(uint256 matchId, MatchTerms calldata terms) external nonReentrant {
        (MatchStatus storage s, ) = _status(matchId, terms, MatchState.ResultPosted);
        if (msg.sender != terms.jc) revert NotParty(matchId, msg.sender);
        _beforeDeadline(matchId, s.deadline);
        _close(matchId, s, terms, Verdict.Accepted);
        _payCaller(matchId, s, terms);
    }

    /// @notice The JC rejects the result before the reaction deadline: the mediator has
    /// `mediationTime` seconds to rule.
    /// @param matchId the match.
    /// @param terms the match's terms as in its MatchPosted event.
    function rejectResult(uint256 matchId, MatchTerms calldata terms) external {
        (MatchStatus storage s, ) = _status(matchId, terms, MatchState.ResultPosted);
        if (msg.sender != terms.jc) revert NotParty(matchId, msg.sender);
        _beforeDeadline(matchId, s.deadline);
        uint64 deadline = uint64(block.timestamp) + terms.mediationTime;
        s.state = MatchState.Mediating;
        s.deadline = deadline;
        emit ResultRejected(matchId, deadline);
    }

    /// @notice The mediator rules with the hashes of its n re-executions (SPEC §2.1): all equal and
    /// equal to the RP's, the JC was wrong; all equal and different, the RP cheated; not all
    /// equal, the job is non-deterministic and the JC is at fault. Its share is paid at once.
    /// @param matchId the match.
    /// @param terms the match's terms as in its MatchPosted event.
    /// @param resultHashes the hashes of the n re-executions.
    function mediate(
        uint256 matchId,
        MatchTerms calldata terms,
        bytes32[] calldata resultHashes
    ) external nonReentrant {
        (MatchStatus storage s, bytes32 key) = _status(matchId, terms, MatchState.Mediating);
        if (msg.sender != terms.mediator) revert NotParty(matchId, msg.sender);
        _beforeDeadline(matchId, s.deadline);
        if (resultHashes.length != terms.n) revert WrongResultCount(matchId, resultHashes.length, terms.n);
        bytes32 first = resultHashes[0];
        bool allEqual = true;
        for (uint256 i = 1; i < resultHashes.length; ++i) {
            if (resultHashes[i] != first) {
                allEqual = false;
                break;
            }
        }
        Verdict verdict =
            !allEqual
                ? Verdict.NonDeterministic
                : (first == _results[key] ? Verdict.JobCreatorWrong : Verdict.ResourceProviderCheated);
        _close(matchId, s, terms, verdict);
        _payCaller(matchId, s, terms);
    }

    /// @notice After the result deadline with no result, anyone closes the match: the JC gets
    /// everything back and the RP's deposit.
    /// @param matchId the match.
    /// @param terms the match's terms as in its MatchPosted event.
    function timeoutResult(uint256 matchId, MatchTerms calldata terms) external {
        (MatchStatus storage s, ) = _status(matchId, terms, MatchState.AwaitingResult);
        _afterDeadline(matchId, s.deadline);
        _close(matchId, s, terms, Verdict.ResultTimeout);
    }

    /// @notice After the reaction deadline with no answer from the JC, anyone closes the match as accepted.
    /// @param matchId the match.
    /// @param terms the match's terms as in its MatchPosted event.
    function timeoutReaction(uint256 matchId, MatchTerms calldata terms) external {
        (MatchStatus storage s, ) = _status(matchId, terms, MatchState.ResultPosted);
        _afterDeadline(matchId, s.deadline);
        _close(matchId, s, terms, Verdict.Accepted);
    }

    /// @notice After the mediation deadline with no ruling, anyone closes the match: both parties
    /// get their escrow back and half of the mediator's bond each.
    /// @param matchId the match.
    /// @param terms the match's terms as in its MatchPosted event.
    function timeoutMediation(uint256 matchId, MatchTerms calldata terms) external {
        (MatchStatus storage s, ) = _status(matchId, terms, MatchState.Mediating);
        _afterDeadline(matchId, s.deadline);
        _close(matchId, s, terms, Verdict.MediationTimeout);
    }

    /// @notice Pays the caller its shares (as JC, RP and/or mediator) of a closed match.
    /// @param matchId the match.
    /// @param terms the match's terms as in its MatchPosted event.
    function claimShare(uint256 matchId, MatchTerms calldata terms) external nonReentrant {
        (MatchStatus storage s, ) = _status(matchId, terms, MatchState.Closed);
        if (msg.sender != terms.jc && msg.sender != terms.rp && msg.sender != terms.mediator) {
            revert NotParty(matchId, msg.sender);
        }
        if (_payCaller(matchId, s, terms) == 0) revert NothingToClaim(matchId, msg.sender);
    }

    // ------------------------------------------------------------------ views

    /// @notice The verdict table of SPEC §2.1: what JC, RP and mediator get from a match's escrow
    /// (P + 2D + N, plus the bond when the mediator timed out).
    /// @param t the match's terms.
    /// @param verdict how the match ended.
    /// @return jc the JC's share.
    /// @return rp the RP's share.
    /// @return med the mediator's share.
    function payouts(MatchTerms memory t, Verdict verdict) public pure returns (uint256 jc, uint256 rp, uint256 med) {
        uint256 p = t.price;
        uint256 d = t.deposit;
        uint256 nd = t.ndDeposit;
        if (verdict == Verdict.Accepted) return (d + nd, p + d, 0);
        if (verdict == Verdict.JobCreatorWrong) return (nd, 2 * p + d, d - p);
        if (verdict == Verdict.ResourceProviderCheated) return (2 * p + d + nd, 0, d - p);
        if (verdict == Verdict.NonDeterministic) return (p + d, p + d, nd - p);
        if (verdict == Verdict.ResultTimeout) return (p + 2 * d + nd, 0, 0);
        if (verdict == Verdict.MediationTimeout) return (p + d + nd + t.bond / 2, d + (t.bond - t.bond / 2), 0);
        return (0, 0, 0);
    }

    /// @notice Escrow a job offer takes: P + D_J + N_J + match fee + the mediator's JC price.
    /// @param offer the job offer.
    function jobEscrow(JobOffer memory offer) public pure returns (uint256) {
        (uint256 deposit, uint256 ndDeposit) = deposits(offer.price, offer.terms);
        return uint256(offer.price) + deposit + ndDeposit + offer.matchFee + offer.terms.jcPrice;
    }

    /// @notice D = P * PR * n and N = P * NDPR * n (floored).
    /// @param price P.
    /// @param terms the mediator's terms (PR, NDPR, n).
    /// @return deposit D, each side's deposit.
    /// @return ndDeposit N, the JC's non-determinism deposit.
    function deposits(
        uint256 price,
        MediatorTerms memory terms
    ) public pure returns (uint256 deposit, uint256 ndDeposit) {
        deposit = (price * terms.pr * terms.n) / WAD;
        ndDeposit = (price * terms.ndpr * terms.n) / WAD;
    }

    /// @notice A match's state, current deadline, verdict, claimed shares and result hash.
    /// @param matchId the match.
    /// @param terms its terms as in its MatchPosted event; reverts with UnknownMatch or TermsMismatch.
    /// @return status the match's status.
    /// @return resultHash the RP's result hash (zero before it posts one).
    function matchStatus(
        uint256 matchId,
        MatchTerms calldata terms
    ) external view returns (MatchStatus memory status, bytes32 resultHash) {
        bytes32 key = _matchKey(matchId, terms);
        status = _matches[key];
        if (status.state == MatchState.None) _revertNoMatch(matchId);
        resultHash = _results[key];
    }

    /// @notice Whether job offer `jobId` is open (posted, not matched, cancelled or expired).
    /// @param jobId the offer's id.
    function isJobOfferOpen(uint256 jobId) external view returns (bool) {
        return _jobOffers[jobId] != bytes32(0);
    }

    /// @notice Whether resource offer `offerId` is open (posted, not matched, cancelled or expired).
    /// @param offerId the offer's id.
    function isResourceOfferOpen(uint256 offerId) external view returns (bool) {
        return _resourceOffers[offerId] != bytes32(0);
    }

    /// @notice Numbers of job offers, resource offers and matches ever posted (ids start at 1).
    /// @return jobs job offers posted.
    /// @return offers resource offers posted.
    /// @return matches matches posted.
    function counts() external view returns (uint256 jobs, uint256 offers, uint256 matches) {
        Counters memory c = _counters;
        return (c.jobs, c.offers, c.matches);
    }

    // ------------------------------------------------------------------ internals

    function _takeJobOffer(uint256 jobId, JobOffer calldata offer) private {
        bytes32 stored = _jobOffers[jobId];
        if (stored == bytes32(0)) revert OfferNotOpen(jobId);
        if (stored != keccak256(abi.encode(jobId, offer))) revert OfferMismatch(jobId);
        delete _jobOffers[jobId];
    }

    function _takeResourceOffer(uint256 offerId, ResourceOffer calldata offer) private {
        bytes32 stored = _resourceOffers[offerId];
        if (stored == bytes32(0)) revert OfferNotOpen(offerId);
        if (stored != keccak256(abi.encode(offerId, offer))) revert OfferMismatch(offerId);
        delete _resourceOffers[offerId];
    }

    function _checkMatch(
        uint256 jobId,
        JobOffer calldata job,
        uint256 offerId,
        ResourceOffer calldata offer
    ) private view {
        if (block.timestamp > job.expiry) revert OfferExpired(jobId, job.expiry, block.timestamp);
        if (block.timestamp > offer.expiry) revert OfferExpired(offerId, offer.expiry, block.timestamp);
        if (job.price < offer.requestedPrice) revert PriceBelowRequested(job.price, offer.requestedPrice);
        bool trusted;
        for (uint256 i; i < offer.trustedMediators.length; ++i) {
            if (offer.trustedMediators[i] == job.mediator) {
                trusted = true;
                break;
            }
        }
        if (!trusted) revert UntrustedMediator(offerId, job.mediator);
        if (job.instructions > offer.instructionCapacity || job.bandwidth > offer.bandwidthCapacity) {
            revert CapacityExceeded(
                job.instructions,
                offer.instructionCapacity,
                job.bandwidth,
                offer.bandwidthCapacity
            );
        }
        if (job.resultTime < offer.minResultTime) {
            revert OfferLimitExceeded(offerId, OfferLimit.MinResultTime, job.resultTime, offer.minResultTime);
        }
        if (job.reactionTime > offer.maxReactionTime) {
            revert OfferLimitExceeded(offerId, OfferLimit.MaxReactionTime, job.reactionTime, offer.maxReactionTime);
        }
        if (job.terms.mediationTime > offer.maxMediationTime) {
            revert OfferLimitExceeded(
                offerId,
                OfferLimit.MaxMediationTime,
                job.terms.mediationTime,
                offer.maxMediationTime
            );
        }
        if (job.terms.rpPrice > offer.maxMediatorPrice) {
            revert OfferLimitExceeded(offerId, OfferLimit.MaxMediatorPrice, job.terms.rpPrice, offer.maxMediatorPrice);
        }
        MediatorRecord storage m = _mediators[job.mediator];
        if (!m.active || m.freeBond < job.terms.bond) {
            revert MediatorUnavailable(job.mediator, m.freeBond, job.terms.bond);
        }
        // A job binds its mediator only to the terms it still offers: an update voids unmatched jobs.
        if (_termsHash(job.terms) != m.termsHash) revert MediatorTermsChanged(job.mediator);
    }

    function _matchTerms(
        uint256 jobId,
        JobOffer calldata job,
        uint256 offerId,
        ResourceOffer calldata offer
    ) private pure returns (MatchTerms memory terms) {
        (uint256 deposit, uint256 ndDeposit) = deposits(job.price, job.terms);
        terms = MatchTerms({
            jobId: jobId,
            offerId: offerId,
            jc: job.jc,
            rp: offer.rp,
            mediator: job.mediator,
            price: job.price,
            deposit: uint96(deposit),
            ndDeposit: uint96(ndDeposit),
            bond: job.terms.bond,
            n: job.terms.n,
            reactionTime: job.reactionTime,
            mediationTime: job.terms.mediationTime
        });
    }

    function _status(
        uint256 matchId,
        MatchTerms calldata terms,
        MatchState expected
    ) private view returns (MatchStatus storage s, bytes32 key) {
        key = _matchKey(matchId, terms);
        s = _matches[key];
        if (s.state == MatchState.None) _revertNoMatch(matchId);
        if (s.state != expected) revert WrongMatchState(matchId, s.state);
    }

    /// @dev A match that was never posted is unknown; one that was, looked up with other terms, is a mismatch.
    function _revertNoMatch(uint256 matchId) private view {
        if (matchId == 0 || matchId > _counters.matches) revert UnknownMatch(matchId);
        revert TermsMismatch(matchId);
    }

    function _matchKey(uint256 matchId, MatchTerms memory terms) private pure returns (bytes32) {
        return keccak256(abi.encode(matchId, terms));
    }

    function _beforeDeadline(uint256 matchId, uint64 deadline) private view {
        if (block.timestamp > deadline) revert TooLate(matchId, deadline, block.timestamp);
    }

    function _afterDeadline(uint256 matchId, uint64 deadline) private view {
        if (block.timestamp <= deadline) revert TooEarly(matchId, deadline, block.timestamp);
    }

    function _close(uint256 matchId, MatchStatus storage s, MatchTerms calldata terms, Verdict verdict) private {
        s.state = MatchState.Closed;
        s.verdict = verdict;
        MediatorRecord storage m = _mediators[terms.mediator];
        --m.openJobs;
        // A silent mediator's bond goes to the parties (it is part of their shares); otherwise it is
        // free again, or credited to a mediator that has left. What would not fit the 96-bit free
        // bond (a mediator that topped it up to the limit while this bond was locked) is credited,
        // so closing a match can never revert.
        if (verdict != Verdict.MediationTimeout && !m.active) {
            _credit(terms.mediator, terms.bond);
        } else if (verdict != Verdict.MediationTimeout) {
            uint256 freeBond = uint256(m.freeBond) + terms.bond;
            if (freeBond > type(uint96).max) {
                _credit(terms.mediator, freeBond - type(uint96).max);
                freeBond = type(uint96).max;
            }
            m.freeBond = uint96(freeBond);
        }
        (uint256 jc, uint256 rp, uint256 med) = payouts(terms, verdict);
        emit MatchClosed(matchId, verdict, jc, rp, med);
    }

    /// @dev Pays msg.sender every unclaimed share it holds in a closed match; returns the amount.
    function _payCaller(
        uint256 matchId,
        MatchStatus storage s,
        MatchTerms calldata terms
    ) private returns (uint256 amount) {
        (uint256 jc, uint256 rp, uint256 med) = payouts(terms, s.verdict);
        uint8 claimed = s.claimed;
        if (msg.sender == terms.jc && claimed & 1 == 0) {
            claimed |= 1;
            amount += jc;
        }
        if (msg.sender == terms.rp && claimed & 2 == 0) {
            claimed |= 2;
            amount += rp;
        }
        if (msg.sender == terms.mediator && claimed & 4 == 0) {
            claimed |= 4;
            amount += med;
        }
        s.claimed = claimed;
        if (amount > 0) {
            emit ShareClaimed(matchId, msg.sender, amount);
            _pay(msg.sender, amount);
        }
    }
}
