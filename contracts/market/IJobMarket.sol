// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IJobMarket
/// @notice Types, events and errors of the job market with mediation (SPEC §2, MODICUM).
/// Amounts are token wei; rates (PR, NDPR) are WAD; deadlines are unix seconds.
/// @dev Offers are kept on chain as hashes (one slot each) and a match's state is stored under the
/// full 32-byte hash of its id and fixed terms; callers pass offers and terms back in calldata, and
/// the full structs are in the events that created them. This keeps a job's happy path near 500k gas.
/// Every window a party waits in is bounded twice: by the protocol's floor and ceiling (fixed at
/// deployment) and by the party's own consent (the RP's offer limits, the mediator's longest job).
interface IJobMarket {
    /// @notice A mediator's terms. A job offer carries the terms its JC agreed to; it is matched only
    /// while they are still the mediator's, and a match keeps them whatever the mediator changes later.
    struct MediatorTerms {
        uint80 pr; // penalty rate (WAD): the deposits of JC and RP are price * PR * n
        uint80 ndpr; // non-determinism penalty rate (WAD): the JC's ND deposit is price * NDPR * n
        uint96 jcPrice; // availability price paid by the JC
        uint96 rpPrice; // availability price paid by the RP
        uint96 bond; // locked per matched job; split between JC and RP if the mediator is silent
        uint16 n; // re-executions per mediation
        uint32 mediationTime; // seconds the mediator has to rule after a rejection
        uint32 maxJobTime; // the longest a match may lock its bond: resultTime + reactionTime + mediationTime
    }

    /// @notice A job creator's offer: escrow price + D_J + N_J + matchFee + terms.jcPrice.
    struct JobOffer {
        address jc;
        address mediator;
        bytes32 specHash; // what to run and on which input
        uint64 instructions;
        uint64 bandwidth;
        uint64 expiry; // last second the offer can be matched; after it anyone may return the escrow
        uint32 resultTime; // seconds the RP has after the match to post a result
        uint32 reactionTime; // seconds the JC has after the result to accept or reject
        uint96 price; // P, the most the JC pays
        uint96 matchFee; // to the solver
        MediatorTerms terms;
    }

    /// @notice A resource provider's offer: escrow deposit + matchFee. Its limits are the terms it
    /// consents to: no match outside them is made.
    struct ResourceOffer {
        address rp;
        uint64 instructionCapacity;
        uint64 bandwidthCapacity;
        uint64 expiry;
        uint96 requestedPrice; // the least the RP accepts
        uint96 matchFee; // to the solver
        uint96 deposit; // must cover D_R = P * PR * n plus the mediator's RP price; the excess is refunded
        uint32 minResultTime; // the shortest result window the RP accepts (time to run the job)
        uint32 maxReactionTime; // the longest the RP lets the JC take to accept or reject
        uint32 maxMediationTime; // the longest the RP lets a mediator take to rule
        uint96 maxMediatorPrice; // the most availability price (rpPrice) the RP pays a mediator
        address[] trustedMediators;
    }

    /// @notice The protocol's floor and ceiling of each window, in seconds, fixed at deployment.
    struct WindowBounds {
        uint32 minResultTime;
        uint32 maxResultTime;
        uint32 minReactionTime;
        uint32 maxReactionTime;
        uint32 minMediationTime;
        uint32 maxMediationTime;
    }

    /// @notice The windows of a match, each bounded by the protocol (`windowBounds`).
    enum Window {
        Result,
        Reaction,
        Mediation
    }

    /// @notice The limits of a resource offer (see ResourceOffer).
    enum OfferLimit {
        MinResultTime,
        MaxReactionTime,
        MaxMediationTime,
        MaxMediatorPrice
    }

    enum MatchState {
        None,
        AwaitingResult,
        ResultPosted,
        Mediating,
        Closed
    }

    /// @notice How a match ended (SPEC §2.1 verdict table).
    enum Verdict {
        None,
        Accepted, // JC accepted, or stayed silent past the reaction deadline
        JobCreatorWrong, // mediation: n equal hashes equal to the RP's
        ResourceProviderCheated, // mediation: n equal hashes that differ from the RP's
        NonDeterministic, // mediation: the n hashes are not all equal
        ResultTimeout, // RP silent past the result deadline
        MediationTimeout // mediator silent past its deadline
    }

    /// @notice The fixed terms of a match, committed as a hash when the match is made.
    struct MatchTerms {
        uint256 jobId;
        uint256 offerId;
        address jc;
        address rp;
        address mediator;
        uint96 price; // P
        uint96 deposit; // D_J = D_R = P * PR * n
        uint96 ndDeposit; // N_J = P * NDPR * n
        uint96 bond; // the mediator's bond locked for this match
        uint16 n;
        uint32 reactionTime;
        uint32 mediationTime;
    }

    /// @notice What changes over a match's life: its state, current deadline and verdict, in one
    /// slot stored under keccak256(abi.encode(matchId, terms)), so the whole 32-byte hash binds the
    /// terms: forged terms find an empty slot (a collision takes about 2^128 work even for one
    /// account that plays every role).
    // One slot as it is (8 + 1 + 1 + 1 bytes): the packing rule counts each enum as a slot.
    // solhint-disable-next-line gas-struct-packing
    struct MatchStatus {
        uint64 deadline; // result, reaction or mediation deadline, depending on the state
        MatchState state;
        Verdict verdict;
        uint8 claimed; // bit 0: JC, bit 1: RP, bit 2: mediator have taken their share
    }

    /// @notice A mediator registered.
    /// @param mediator the mediator.
    /// @param terms its terms.
    /// @param bond the bond it deposited.
    event MediatorRegistered(address indexed mediator, MediatorTerms terms, uint256 bond);

    /// @notice A mediator changed its terms for the jobs offered from now on.
    /// @param mediator the mediator.
    /// @param terms its new terms.
    event MediatorUpdated(address indexed mediator, MediatorTerms terms);

    /// @notice A mediator added to its bond deposit.
    /// @param mediator the mediator.
    /// @param amount the tokens added.
    event MediatorBondAdded(address indexed mediator, uint256 amount);

    /// @notice A mediator left the registry (it takes no new jobs); its free bond and earnings were
    /// credited back, and each bond still locked comes back to it when its match closes.
    /// @param mediator the mediator.
    /// @param bondReturned the free bond credited back.
    event MediatorExited(address indexed mediator, uint256 bondReturned);

    /// @notice A mediator withdrew part of its free bond.
    /// @param mediator the mediator.
    /// @param amount the tokens credited back.
    event MediatorBondWithdrawn(address indexed mediator, uint256 amount);

    /// @notice A mediator withdrew the availability prices it earned.
    /// @param mediator the mediator.
    /// @param amount the tokens sent.
    event MediatorPaid(address indexed mediator, uint256 amount);

    /// @notice A job creator posted a job offer; only its hash is stored, so the offer here is what
    /// callers pass back.
    /// @param jobId the offer's id.
    /// @param offer the full offer.
    /// @param escrow the tokens escrowed: P + D_J + N_J + matchFee + the mediator's JC price.
    event JobOfferPosted(uint256 indexed jobId, JobOffer offer, uint256 escrow);

    /// @notice An unmatched job offer was closed and its escrow credited back to the JC.
    /// @param jobId the offer's id.
    /// @param expired true if closed after its expiry, false if cancelled by the JC.
    event JobOfferClosed(uint256 indexed jobId, bool expired);

    /// @notice A resource provider posted an offer; only its hash is stored, so the offer here is what
    /// callers pass back.
    /// @param offerId the offer's id.
    /// @param offer the full offer (its `rp` is the caller).
    /// @param escrow the tokens escrowed: deposit + matchFee.
    event ResourceOfferPosted(uint256 indexed offerId, ResourceOffer offer, uint256 escrow);

    /// @notice An unmatched resource offer was closed and its escrow credited back to the RP.
    /// @param offerId the offer's id.
    /// @param expired true if closed after its expiry, false if cancelled by the RP.
    event ResourceOfferClosed(uint256 indexed offerId, bool expired);

    /// @notice A solver matched a job offer with a resource offer; only the terms' hash is stored, so the
    /// terms here are what callers pass back.
    /// @param matchId the match's id.
    /// @param terms the match's fixed terms.
    /// @param solver the caller, paid both match fees.
    /// @param solverFee the two match fees.
    /// @param resultDeadline the last second for the RP to post a result.
    event MatchPosted(
        uint256 indexed matchId,
        MatchTerms terms,
        address indexed solver,
        uint256 solverFee,
        uint256 resultDeadline
    );

    /// @notice The RP posted the hash of its result.
    /// @param matchId the match.
    /// @param resultHash the hash of the result.
    /// @param reactionDeadline the last second for the JC to accept or reject it.
    event ResultPosted(uint256 indexed matchId, bytes32 resultHash, uint256 reactionDeadline);

    /// @notice The JC rejected the result; the mediator rules next.
    /// @param matchId the match.
    /// @param mediationDeadline the last second for the mediator to rule.
    event ResultRejected(uint256 indexed matchId, uint256 mediationDeadline);

    /// @notice A match ended with a verdict; each party then takes its share with `claimShare`.
    /// @param matchId the match.
    /// @param verdict how it ended.
    /// @param toJobCreator the JC's share of the escrow (see `payouts`).
    /// @param toResourceProvider the RP's share.
    /// @param toMediator the mediator's share.
    event MatchClosed(
        uint256 indexed matchId,
        Verdict verdict,
        uint256 toJobCreator,
        uint256 toResourceProvider,
        uint256 toMediator
    );

    /// @notice A party of a closed match took its share.
    /// @param matchId the match.
    /// @param account the party paid.
    /// @param amount the tokens paid.
    event ShareClaimed(uint256 indexed matchId, address indexed account, uint256 amount);

    /// @notice The mediator's terms break a bound of SPEC §2.1.
    /// @param reason the bound.
    error InvalidMediatorTerms(string reason);
    /// @notice The caller is already a registered mediator.
    /// @param mediator the caller.
    error MediatorAlreadyRegistered(address mediator);
    /// @notice No registered mediator at this address.
    /// @param mediator the address.
    error UnknownMediator(address mediator);
    /// @notice The mediator is not registered or its free bond cannot cover one more job.
    /// @param mediator the mediator.
    /// @param freeBond its free bond.
    /// @param bondNeeded the bond a job locks.
    error MediatorUnavailable(address mediator, uint256 freeBond, uint256 bondNeeded);
    /// @notice A mediator asked for more free bond than it has.
    /// @param mediator the mediator.
    /// @param freeBond its free bond.
    /// @param amount the amount asked for.
    error InsufficientFreeBond(address mediator, uint256 freeBond, uint256 amount);
    /// @notice A deployment's window bounds are not 1 <= min <= max.
    /// @param window the window.
    /// @param min its floor.
    /// @param max its ceiling.
    error InvalidWindowBounds(Window window, uint256 min, uint256 max);
    /// @notice A window is outside the protocol's floor and ceiling.
    /// @param window the window.
    /// @param seconds_ the window asked for.
    /// @param min the floor.
    /// @param max the ceiling.
    error WindowOutOfBounds(Window window, uint256 seconds_, uint256 min, uint256 max);
    /// @notice The job would lock the mediator's bond longer than the mediator stands behind.
    /// @param mediator the mediator.
    /// @param jobTime resultTime + reactionTime + mediationTime.
    /// @param maxJobTime the mediator's longest job.
    error JobTooLongForMediator(address mediator, uint256 jobTime, uint256 maxJobTime);
    /// @notice The mediator's current terms are not the job's: they changed before the JC posted it,
    /// or since (an update voids the unmatched jobs that name the mediator).
    /// @param mediator the mediator.
    error MediatorTermsChanged(address mediator);
    /// @notice The match breaks a limit of the resource offer: the RP did not consent to it.
    /// @param offerId the resource offer.
    /// @param limit which limit.
    /// @param value the job's value.
    /// @param bound the offer's limit.
    error OfferLimitExceeded(uint256 offerId, OfferLimit limit, uint256 value, uint256 bound);
    error ZeroAmount();
    error AmountTooLarge(uint256 amount, uint256 max);
    error InvalidOffer(string reason);
    error NotOfferOwner(address owner, address caller);
    error OfferNotOpen(uint256 id);
    error OfferMismatch(uint256 id);
    error OfferExpired(uint256 id, uint256 expiry, uint256 now_);
    error NotExpiredYet(uint256 id, uint256 expiry, uint256 now_);
    error PriceBelowRequested(uint256 price, uint256 requestedPrice);
    error UntrustedMediator(uint256 offerId, address mediator);
    error CapacityExceeded(
        uint256 instructions,
        uint256 instructionCapacity,
        uint256 bandwidth,
        uint256 bandwidthCapacity
    );
    error DepositTooLow(uint256 need, uint256 got);
    error UnknownMatch(uint256 matchId);
    error TermsMismatch(uint256 matchId);
    error WrongMatchState(uint256 matchId, MatchState state);
    error NotParty(uint256 matchId, address caller);
    error TooLate(uint256 matchId, uint256 deadline, uint256 now_);
    error TooEarly(uint256 matchId, uint256 deadline, uint256 now_);
    error WrongResultCount(uint256 matchId, uint256 given, uint256 n);
    error NothingToClaim(uint256 matchId, address caller);
    error TooManyTrustedMediators(uint256 count, uint256 max);
}
