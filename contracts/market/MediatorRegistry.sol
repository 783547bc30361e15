// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TokenCredits} from "../token/TokenCredits.sol";
import {IJobMarket} from "./IJobMarket.sol";

/// @title MediatorRegistry
/// @notice Mediators of the job market (SPEC §2.1): each registers its terms (n, PR, NDPR,
/// availability prices, bond per job, mediation time, longest job) with a bond deposit. Every
/// matched job locks one bond from the deposit until the job closes, which its bounded windows make
/// at most `maxJobTime` after the match. A mediator withdraws free bond at any time and may leave at
/// any time: it then takes no new job, and each bond still locked comes back to it as its match closes.
/// A job is matched only under the terms its mediator offers at the match: changing its terms voids
/// the unmatched jobs that name it, so old terms bind it to no new match.
/// @dev Also holds the protocol's window bounds, fixed at deployment (every window has a floor and
/// a ceiling, SPEC §0).
abstract contract MediatorRegistry is IJobMarket, TokenCredits {
    uint256 internal constant WAD = 1e18;
    /// @notice Most re-executions per mediation (n): keeps a mediation's gas sane.
    uint256 public constant MAX_N = 64;
    /// @notice Highest PR and NDPR (WAD, so 1000): keeps the deposits sane.
    uint256 public constant MAX_RATE = 1_000 * WAD;

    struct MediatorRecord {
        MediatorTerms terms;
        uint96 freeBond; // deposited and not locked by a job
        uint32 openJobs; // matched jobs not yet closed
        bool active;
        uint96 earnings; // availability prices earned and not withdrawn (kept in the slot matches already write)
        bytes32 termsHash; // keccak256(abi.encode(terms)): what jobs and matches are checked against
    }

    uint32 internal immutable _minResultTime;
    uint32 internal immutable _maxResultTime;
    uint32 internal immutable _minReactionTime;
    uint32 internal immutable _maxReactionTime;
    uint32 internal immutable _minMediationTime;
    uint32 internal immutable _maxMediationTime;

    mapping(address mediator => MediatorRecord) internal _mediators;

    /// @notice Fixes the protocol's floor and ceiling of every window.
    /// @param bounds the floor and ceiling of every window, each 1 <= min <= max.
    constructor(WindowBounds memory bounds) {
        _checkBounds(Window.Result, bounds.minResultTime, bounds.maxResultTime);
        _checkBounds(Window.Reaction, bounds.minReactionTime, bounds.maxReactionTime);
        _checkBounds(Window.Mediation, bounds.minMediationTime, bounds.maxMediationTime);
        _minResultTime = bounds.minResultTime;
        _maxResultTime = bounds.maxResultTime;
        _minReactionTime = bounds.minReactionTime;
        _maxReactionTime = bounds.maxReactionTime;
        _minMediationTime = bounds.minMediationTime;
        _maxMediationTime = bounds.maxMediationTime;
    }

    /// @notice Registers the caller as a mediator with `terms` and deposits `bondDeposit`.
    /// @param terms the mediator's terms (checked against SPEC §2.1's bounds and the window bounds).
    /// @param bondDeposit tokens pulled from the caller; every matched job locks `terms.bond` of them.
    function registerMediator(MediatorTerms calldata terms, uint256 bondDeposit) external nonReentrant {
        MediatorRecord storage m = _mediators[msg.sender];
        if (m.active) revert MediatorAlreadyRegistered(msg.sender);
        _checkTerms(terms);
        m.terms = terms;
        m.termsHash = _termsHash(terms);
        m.active = true;
        m.freeBond = _toUint96(uint256(m.freeBond) + bondDeposit);
        _pull(msg.sender, bondDeposit);
        emit MediatorRegistered(msg.sender, terms, bondDeposit);
    }

    /// @notice Changes the caller's terms for jobs offered from now on; job offers naming it that are
    /// not matched yet can no longer be matched (MediatorTermsChanged): their JCs cancel them.
    /// @param terms the new terms.
    function updateMediator(MediatorTerms calldata terms) external {
        MediatorRecord storage m = _activeMediator(msg.sender);
        _checkTerms(terms);
        m.terms = terms;
        m.termsHash = _termsHash(terms);
        emit MediatorUpdated(msg.sender, terms);
    }

    /// @notice Adds `amount` to the caller's bond deposit.
    /// @param amount tokens pulled from the caller.
    function addMediatorBond(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        MediatorRecord storage m = _activeMediator(msg.sender);
        m.freeBond = _toUint96(uint256(m.freeBond) + amount);
        _pull(msg.sender, amount);
        emit MediatorBondAdded(msg.sender, amount);
    }

    /// @notice Credits `amount` of the caller's free bond back (bonds locked by matches stay).
    /// @param amount tokens of free bond.
    function withdrawMediatorBond(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        MediatorRecord storage m = _mediators[msg.sender];
        if (amount > m.freeBond) revert InsufficientFreeBond(msg.sender, m.freeBond, amount);
        m.freeBond -= uint96(amount);
        _credit(msg.sender, amount);
        emit MediatorBondWithdrawn(msg.sender, amount);
    }

    /// @notice Leaves the registry at any time: no new job can name or match the caller, its free
    /// bond and earnings are credited back now, and every bond still locked by an open match is
    /// credited back when that match closes (each within its bounded windows). It still rules on the
    /// matches it is the mediator of.
    function exitMediator() external {
        MediatorRecord storage m = _activeMediator(msg.sender);
        uint256 bond = m.freeBond;
        uint256 earnings = m.earnings;
        m.freeBond = 0;
        m.earnings = 0;
        m.active = false;
        _credit(msg.sender, bond + earnings);
        emit MediatorExited(msg.sender, bond);
    }

    /// @notice Sends the caller the availability prices it has earned as a mediator.
    function withdrawMediatorEarnings() external nonReentrant {
        MediatorRecord storage m = _mediators[msg.sender];
        uint256 amount = m.earnings;
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        m.earnings = 0;
        emit MediatorPaid(msg.sender, amount);
        _pay(msg.sender, amount);
    }

    /// @notice A mediator's current terms and bond state.
    /// @param account the mediator.
    function mediator(address account) external view returns (MediatorRecord memory) {
        return _mediators[account];
    }

    /// @notice The protocol's floor and ceiling of every window, in seconds.
    function windowBounds() external view returns (WindowBounds memory) {
        return
            WindowBounds({
                minResultTime: _minResultTime,
                maxResultTime: _maxResultTime,
                minReactionTime: _minReactionTime,
                maxReactionTime: _maxReactionTime,
                minMediationTime: _minMediationTime,
                maxMediationTime: _maxMediationTime
            });
    }

    function _activeMediator(address account) internal view returns (MediatorRecord storage m) {
        m = _mediators[account];
        if (!m.active) revert UnknownMediator(account);
    }

    /// @dev SPEC §2.1: n >= 1, PR * n >= 1 and NDPR * n >= 1, so every mediation fee
    /// (D_J - P, D_R - P, N_J - P) is non-negative; the mediation window within the protocol's
    /// bounds; and a longest job that fits at least the shortest windows the protocol allows.
    function _checkTerms(MediatorTerms calldata terms) internal view {
        if (terms.n == 0) revert InvalidMediatorTerms("n must be at least 1");
        if (terms.n > MAX_N) revert InvalidMediatorTerms("n must be at most 64");
        if (uint256(terms.pr) * terms.n < WAD) revert InvalidMediatorTerms("PR * n must be at least 1");
        if (uint256(terms.ndpr) * terms.n < WAD) revert InvalidMediatorTerms("NDPR * n must be at least 1");
        if (terms.pr > MAX_RATE || terms.ndpr > MAX_RATE) {
            revert InvalidMediatorTerms("PR and NDPR must be at most 1000");
        }
        _checkWindow(Window.Mediation, terms.mediationTime);
        if (uint256(_minResultTime) + _minReactionTime + terms.mediationTime > terms.maxJobTime) {
            revert InvalidMediatorTerms("max job time is shorter than the shortest job");
        }
    }

    /// @dev Reverts unless `seconds_` is within the protocol's bounds of `window`.
    function _checkWindow(Window window, uint256 seconds_) internal view {
        (uint256 min, uint256 max) = window == Window.Result
            ? (_minResultTime, _maxResultTime)
            : window == Window.Reaction
                ? (_minReactionTime, _maxReactionTime)
                : (_minMediationTime, _maxMediationTime);
        if (seconds_ < min || seconds_ > max) revert WindowOutOfBounds(window, seconds_, min, max);
    }

    function _termsHash(MediatorTerms memory terms) internal pure returns (bytes32) {
        return keccak256(abi.encode(terms));
    }

    function _toUint96(uint256 value) internal pure returns (uint96) {
        if (value > type(uint96).max) revert AmountTooLarge(value, type(uint96).max);
        return uint96(value);
    }

    function _checkBounds(Window window, uint32 min, uint32 max) private pure {
        if (min == 0 || min > max) revert InvalidWindowBounds(window, min, max);
    }
}
