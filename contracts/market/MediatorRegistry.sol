// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TokenCredits} from "../token/TokenCredits.sol";
import {IJobMarket} from "./IJobMarket.sol";

/// @title MediatorRegistry
/// @notice Mediators of the job market (SPEC §2.1): each registers its terms (n, PR, NDPR,
/// availability prices, bond per job, mediation time) with a bond deposit. Every matched job locks
/// one bond from the deposit until the job closes; a mediator exits, and gets its deposit back,
/// only when no job it mediates is open.
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
    }

    mapping(address mediator => MediatorRecord) internal _mediators;

    /// @notice Registers the caller as a mediator with `terms` and deposits `bondDeposit`.
    /// @param terms the mediator's terms (checked against SPEC §2.1's bounds).
    /// @param bondDeposit tokens pulled from the caller; every matched job locks `terms.bond` of them.
    function registerMediator(MediatorTerms calldata terms, uint256 bondDeposit) external nonReentrant {
        MediatorRecord storage m = _mediators[msg.sender];
        if (m.active) revert MediatorAlreadyRegistered(msg.sender);
        _checkTerms(terms);
        m.terms = terms;
        m.active = true;
        m.freeBond = _toUint96(uint256(m.freeBond) + bondDeposit);
        _pull(msg.sender, bondDeposit);
        emit MediatorRegistered(msg.sender, terms, bondDeposit);
    }

    /// @notice Changes the caller's terms for jobs offered from now on.
    /// @param terms the new terms.
    function updateMediator(MediatorTerms calldata terms) external {
        MediatorRecord storage m = _activeMediator(msg.sender);
        _checkTerms(terms);
        m.terms = terms;
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

    /// @notice Leaves the registry and credits the bond deposit (and any earnings) back; only with no open job.
    function exitMediator() external {
        MediatorRecord storage m = _activeMediator(msg.sender);
        if (m.openJobs != 0) revert MediatorBusy(msg.sender, m.openJobs);
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

    function _activeMediator(address account) internal view returns (MediatorRecord storage m) {
        m = _mediators[account];
        if (!m.active) revert UnknownMediator(account);
    }

    /// @dev SPEC §2.1: n >= 1, PR * n >= 1 and NDPR * n >= 1, so every mediation fee
    /// (D_J - P, D_R - P, N_J - P) is non-negative.
    function _checkTerms(MediatorTerms calldata terms) internal pure {
        if (terms.n == 0) revert InvalidMediatorTerms("n must be at least 1");
        if (terms.n > MAX_N) revert InvalidMediatorTerms("n must be at most 64");
        if (uint256(terms.pr) * terms.n < WAD) revert InvalidMediatorTerms("PR * n must be at least 1");
        if (uint256(terms.ndpr) * terms.n < WAD) revert InvalidMediatorTerms("NDPR * n must be at least 1");
        if (terms.pr > MAX_RATE || terms.ndpr > MAX_RATE) {
            revert InvalidMediatorTerms("PR and NDPR must be at most 1000");
        }
        if (terms.mediationTime == 0) revert InvalidMediatorTerms("mediation time must be positive");
    }

    function _toUint96(uint256 value) internal pure returns (uint96) {
        if (value > type(uint96).max) revert AmountTooLarge(value, type(uint96).max);
        return uint96(value);
    }
}
