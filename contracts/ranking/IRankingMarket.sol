// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IRankingMarket
/// @notice Types, events and errors of the ranking market (SPEC §1.1-1.2).
interface IRankingMarket {
    /// @notice Deployment configuration. Fractions are WAD (1e18 = 1.0).
    struct Config {
        uint256 maxPeers; // 1..4096, fixed
        uint256 epochLength; // blocks per epoch, fixed
        uint256 commitBlocks; // commit window after each snapshot, fixed
        uint256 revealBlocks; // reveal window after the commit window, fixed
        uint256 lambda; // learning rate of weight rows, (0, 1e18]
        uint256 quorum; // share of snapshot stake that finalizes a result, [0.5e18, 1e18)
        uint256 rho; // connectivity scale of the rank (SDK input), (0, 1e24]
        uint256 theta; // reach threshold on visit probabilities (SDK input), (0, 1e18)
        uint256 tau; // emission cap per epoch as a fraction of total stake, [0, 1e18]
        uint256 minStakeToSetWeights; // token wei
        uint256 weightsRateLimit; // blocks between two weight updates of one peer
        uint256 unbondingBlocks; // blocks from unstake to withdraw (at least until the epochs the stake voted in are over)
        uint256 maxTau; // hard cap of tau, fixed: emission per epoch never exceeds maxTau * the stake that counts, (0, 1e18]
        uint256 registrationBurn; // tokens a registration burns (token wei)
        uint256 immunityBlocks; // blocks after registration during which a peer cannot be replaced
    }

    /// @notice The economic parameters an admin may change, each within its bounds.
    enum Parameter {
        Lambda,
        Quorum,
        Rho,
        Theta,
        Tau,
        MinStakeToSetWeights,
        WeightsRateLimit,
        UnbondingBlocks,
        RegistrationBurn,
        ImmunityBlocks
    }

    /// @notice Where an epoch is in its life (SPEC §1.2).
    enum EpochStatus {
        Accumulating, // the snapshot block has not been mined yet
        Committing, // within commitBlocks after the snapshot
        Revealing, // within the revealBlocks after the commit window
        Finalized, // a result reached quorum: claims are open
        Lapsed // the reveal window ended without quorum: no emission
    }

    /// @notice One claim of emission for `claimMany`.
    struct Claim {
        uint256 epoch;
        uint256 uid;
        uint256 amount;
        bytes32[] proof;
    }

    /// @notice A peer registered.
    /// @param uid its uid.
    /// @param account its account.
    /// @param sponsor the caller: the account itself, or the peer that registered it (`registerFor`).
    /// @param burned the registration cost the sponsor burned.
    event PeerRegistered(uint256 indexed uid, address indexed account, address indexed sponsor, uint256 burned);

    /// @notice A full market gave a newcomer the uid of its weakest peer past immunity: that peer's
    /// stake went into its unbonding, and its row and column were cleared.
    /// @param uid the uid handed over.
    /// @param formerAccount the peer replaced.
    /// @param stakeUnbonded the stake it had, now unbonding for it.
    event PeerReplaced(uint256 indexed uid, address indexed formerAccount, uint256 stakeUnbonded);

    /// @notice Stake was added to a peer.
    /// @param uid the peer.
    /// @param from who paid it; zero for claimed emission, which compounds into stake.
    /// @param amount the tokens added.
    /// @param newStake the peer's stake after it.
    event Staked(uint256 indexed uid, address indexed from, uint256 amount, uint256 newStake);

    /// @notice A peer moved stake into unbonding.
    /// @param uid the peer.
    /// @param amount the tokens unstaked.
    /// @param newStake the peer's stake after it.
    /// @param releaseBlock the block from which its unbonding tokens can be withdrawn.
    event Unstaked(uint256 indexed uid, uint256 amount, uint256 newStake, uint256 releaseBlock);

    /// @notice An account withdrew its unbonded tokens.
    /// @param account the account (a peer, or a replaced peer), which received them.
    /// @param amount the tokens sent.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice A peer's weight row was updated.
    /// @param uid the peer.
    event WeightsSet(uint256 indexed uid);

    /// @notice A validator committed its result for an epoch.
    /// @param epoch the epoch.
    /// @param uid the validator.
    /// @param commitment keccak256(abi.encode(chainId, market, epoch, root, totalEmission, salt, account)).
    event ResultCommitted(uint256 indexed epoch, uint256 indexed uid, bytes32 commitment);

    /// @notice A validator revealed its committed result.
    /// @param epoch the epoch.
    /// @param uid the validator.
    /// @param root the Merkle root of the epoch's emission.
    /// @param totalEmission the emission the root pays out in all.
    /// @param voteStake the validator's stake that counts in the epoch, its vote weight.
    event ResultRevealed(
        uint256 indexed epoch,
        uint256 indexed uid,
        bytes32 root,
        uint256 totalEmission,
        uint256 voteStake
    );

    /// @notice A result reached quorum: the epoch is final and its emission can be claimed.
    /// @param epoch the epoch.
    /// @param root the final Merkle root.
    /// @param totalEmission the emission it pays out in all.
    /// @param supportingStake the stake that counts revealed behind it.
    event EpochFinalized(uint256 indexed epoch, bytes32 root, uint256 totalEmission, uint256 supportingStake);

    /// @notice An epoch's reveal window ended without quorum: it emits nothing.
    /// @param epoch the epoch.
    event EpochLapsed(uint256 indexed epoch);

    /// @notice A leaf of a finalized epoch was claimed; the amount was minted into the stake of the
    /// peer that held the uid at the snapshot, or into its unbonding if it has since been replaced.
    /// @param epoch the epoch.
    /// @param uid the uid.
    /// @param account the peer paid (the uid's holder at the snapshot).
    /// @param amount the tokens minted.
    event EmissionClaimed(uint256 indexed epoch, uint256 indexed uid, address account, uint256 amount);

    /// @notice An economic parameter changed (or was set at deployment).
    /// @param parameter the parameter.
    /// @param previous its value before.
    /// @param value its new value.
    event ParameterChanged(Parameter indexed parameter, uint256 previous, uint256 value);

    error InvalidConfig(string field, uint256 value);
    error ZeroAddress();
    /// @notice The token delivered `received` where `sent` was transferred: fee-on-transfer and
    /// rebasing tokens are not supported (the market must hold exactly the stake it records).
    /// @param token the token.
    /// @param sent the amount transferred.
    /// @param received the amount that arrived.
    error UnsupportedToken(address token, uint256 sent, uint256 received);
    error FutureBlock(uint256 blockNumber, uint256 currentBlock);
    error ParameterOutOfBounds(Parameter parameter, uint256 value, uint256 min, uint256 max);
    error AlreadyRegistered(address account, uint256 uid);
    /// @notice The market is full and every peer is still within its immunity period.
    /// @param maxPeers the market's size.
    error MarketFull(uint256 maxPeers);
    error NotRegistered(address account);
    error UnknownUid(uint256 uid, uint256 peerCount);
    error ZeroAmount();
    error InsufficientStake(uint256 uid, uint256 stake, uint256 requested);
    /// @notice The account has no tokens in unbonding.
    /// @param account the caller.
    error NothingToWithdraw(address account);
    /// @notice The account's unbonding is not over.
    /// @param account the caller.
    /// @param releaseBlock the first block it can withdraw in.
    /// @param currentBlock the current block.
    error StillUnbonding(address account, uint256 releaseBlock, uint256 currentBlock);
    error LengthMismatch(uint256 uids, uint256 values);
    error AllWeightsZero();
    error UidsNotIncreasing(uint256 index, uint256 previous, uint256 uid);
    error UidOutOfRange(uint256 uid, uint256 peerCount);
    error PackedRowTooLong(uint256 words, uint256 maxWords);
    error StakeBelowMinimum(uint256 uid, uint256 stake, uint256 minimum);
    error WeightsRateLimited(uint256 uid, uint256 nextAllowedBlock);
    error NotInCommitWindow(uint256 epoch, uint256 blockNumber, uint256 opensAfter, uint256 closesAt);
    error NotInRevealWindow(uint256 epoch, uint256 blockNumber, uint256 opensAfter, uint256 closesAt);
    /// @notice The validator has no stake that counts in this epoch: none held through the whole
    /// epoch before the snapshot, or it did not hold its uid at the snapshot.
    /// @param epoch the epoch.
    /// @param uid the validator.
    error NoStakeThatCounts(uint256 epoch, uint256 uid);
    error AlreadyCommitted(uint256 epoch, uint256 uid);
    /// @notice A zero commitment would store nothing (it is the mark of "not committed").
    /// @param epoch the epoch.
    /// @param uid the validator.
    error ZeroCommitment(uint256 epoch, uint256 uid);
    error NoCommitment(uint256 epoch, uint256 uid);
    error AlreadyRevealed(uint256 epoch, uint256 uid);
    error CommitmentMismatch(uint256 epoch, uint256 uid);
    error EmissionAboveCap(uint256 epoch, uint256 totalEmission, uint256 cap);
    error EpochNotFinalized(uint256 epoch);
    error EpochNotOver(uint256 epoch, uint256 revealClosesAt);
    error EpochAlreadyClosed(uint256 epoch, EpochStatus status);
    error AlreadyClaimed(uint256 epoch, uint256 uid);
    error InvalidProof(uint256 epoch, uint256 uid, uint256 amount);
    error ClaimExceedsEmission(uint256 epoch, uint256 claimed, uint256 amount, uint256 totalEmission);
    error RangeInvalid(uint256 from, uint256 to, uint256 peerCount);
    /// @notice The uid committed a result for this epoch and never revealed it: it forfeits the
    /// epoch's emission (committing without revealing gains nothing).
    /// @param epoch the epoch.
    /// @param uid the uid.
    error UnrevealedCommitment(uint256 epoch, uint256 uid);
    /// @notice Nobody whose claim the market can pay held this uid at the epoch's snapshot (it
    /// was registered after it, or replaced twice since).
    /// @param epoch the epoch.
    /// @param uid the uid.
    error NotHolderAtSnapshot(uint256 epoch, uint256 uid);
}
