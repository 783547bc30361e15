// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {AgoraToken} from "../token/AgoraToken.sol";
import {WeightRow} from "../libraries/WeightRow.sol";
import {IRankingMarket} from "./IRankingMarket.sol";

// The whole market is one contract by design (one token balance, one invariant, no cross-contract
// calls on the hot paths), so it has more state variables than max-states-count allows.
// solhint-disable max-states-count

/// @title RankingMarket
/// @notice The on-chain half of the ranking market (SPEC §1.1-1.2, Bittensor whitepaper §1-5):
/// peers register and stake, set weight rows, and validators agree by stake-weighted commit-reveal
/// on each epoch's emission, which peers claim with Merkle proofs and which compounds into stake.
/// The ranks themselves are computed off-chain by the SDK from the state at each snapshot block.
/// @dev Invariants kept here:
///  - token.balanceOf(this) == totalStake() + totalUnbonding (every token held is owed to a peer
///    or to a replaced peer's unbonding);
///  - totalStake() == sum of stakeOf(uid) over all uids, at every block (both checkpointed);
///  - countingTotalStake(e) == sum over uids of countingStakeOf(uid, e): the stake held through the
///    whole epoch before e's snapshot (its low-water mark), which alone votes, sets the quorum's base
///    and the emission cap;
///  - stake that counted in epoch e stays in the market (stake or unbonding) until e is over;
///  - a finalized epoch never pays out more than its revealed totalEmission <= maxTau * its counting stake.
/// The parameter admin sits behind OpenZeppelin's delayed default-admin transfer.
contract RankingMarket is IRankingMarket, AccessControlDefaultAdminRules, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Checkpoints for Checkpoints.Trace208;
    using BitMaps for BitMaps.BitMap;
    using SafeCast for uint256;

    /// @notice May change the economic parameters (see `setParameter`).
    bytes32 public constant PARAMETER_ADMIN_ROLE = keccak256("PARAMETER_ADMIN_ROLE");
    /// @notice Upper bound of maxPeers: a row is then at most 256 words of 16 weights.
    uint256 public constant MAX_PEERS_LIMIT = 4096;
    /// @notice Upper bound of every parameter counted in blocks.
    uint256 public constant MAX_BLOCKS = 1_000_000;
    /// @notice Upper bound of rho (WAD, so 1e6).
    uint256 public constant MAX_RHO = 1e24;
    uint256 private constant WAD = 1e18;
    uint256 private constant MAX_ROW_WORDS = 256; // MAX_PEERS_LIMIT / 16 lanes

    enum EpochState {
        Open,
        Finalized,
        Lapsed
    }

    /// @dev Keyed by account, so one SLOAD tells setWeights the caller's uid and rate limit.
    struct PeerState {
        uint32 uidPlusOne;
        uint48 lastWeightsBlock;
        bool rowSet;
    }

    /// @dev Since which block a uid's holder holds it (its immunity and its claims start there),
    /// and the uid's current stake (the latest checkpoint, kept here too so that finding the
    /// weakest peer of a full market reads one slot a uid).
    struct UidState {
        uint48 since;
        uint208 stake;
    }

    /// @dev The previous holder of a replaced uid, so emission it earned before it was replaced
    /// still reaches it.
    struct FormerHolder {
        address account;
        uint48 since;
        uint48 until;
    }

    struct Unbonding {
        uint208 amount;
        uint48 releaseBlock;
    }

    struct Epoch {
        bytes32 root;
        uint120 totalEmission;
        uint120 claimed;
        EpochState state;
    }

    /// @dev What setWeights reads besides the caller's state, packed into two slots.
    struct Core {
        uint32 peerCount;
        uint64 lambda;
        uint64 theta;
        uint32 weightsRateLimit;
        uint32 unbondingBlocks;
        uint32 immunityBlocks;
    }

    struct Thresholds {
        uint128 minStakeToSetWeights;
        uint128 rho;
    }

    /// @dev No uid: what `_weakestReplaceable` returns when every peer is immune.
    uint256 private constant NO_UID = type(uint256).max;

    /// @notice The Agora token: stake is held in it and emission is minted in it.
    AgoraToken public immutable token;
    /// @notice Most peers that may register.
    uint256 public immutable maxPeers;
    /// @notice Blocks per epoch.
    uint256 public immutable epochLength;
    /// @notice Blocks of the commit window after each snapshot.
    uint256 public immutable commitBlocks;
    /// @notice Blocks of the reveal window after the commit window.
    uint256 public immutable revealBlocks;
    /// @notice The deployment block; epoch e ends at genesisBlock + (e + 1) * epochLength.
    uint256 public immutable genesisBlock;
    /// @notice Hard cap of tau, fixed at deployment: no epoch ever emits more than maxTau times
    /// the stake that counts in it.
    uint256 public immutable maxTau;

    /// @notice Tokens in unbonding, owed to peers but no longer stake.
    uint256 public totalUnbonding;
    Core private _core;
    Thresholds private _thresholds;
    /// @notice Tokens a registration burns (paid by the caller of `register` or `registerFor`).
    uint256 public registrationBurn;
    // tau and quorum act on epochs after their snapshot: kept per block so each epoch uses the
    // values in force at its snapshot, whatever an admin changes later.
    Checkpoints.Trace208 private _tau;
    Checkpoints.Trace208 private _quorum;

    mapping(address account => PeerState) private _peerState;
    mapping(uint256 uid => address) private _accountOf;
    mapping(uint256 uid => UidState) private _uids;
    mapping(uint256 uid => FormerHolder) private _formerHolders;
    mapping(uint256 uid => Checkpoints.Trace208) private _stake;
    Checkpoints.Trace208 private _totalStake;
    // The stake that counts in epoch e is the low-water mark of the stake over e (from the state
    // after the previous snapshot to the state after e's): only decreases move it, so these hold
    // low + 1 for the uids and epochs in which the stake went down (0: never lowered, the stake
    // at the start of the epoch counts).
    mapping(uint256 uid => mapping(uint256 epoch => uint256)) private _lowStakePlusOne;
    mapping(uint256 epoch => uint256) private _lowTotalPlusOne;
    // By account, not uid: a replaced peer keeps its unbonding and withdraws it as any peer. What a
    // replacement unbonds (and emission paid to a former holder) is kept apart from what the account
    // unstaked itself, so a replacement never delays the release of tokens already unbonding.
    mapping(address account => Unbonding) private _unbonding;
    mapping(address account => Unbonding) private _replacedUnbonding;
    /// @notice Unbonded tokens of each account already released and not withdrawn yet: what was in
    /// an unbonding when more was added to it, so that adding never locks again what was free.
    mapping(address account => uint256) public released;
    // Dense rows: weight of uid i for peer j lives in word j / 16 of row i, lane j % 16.
    mapping(uint256 uid => uint256[MAX_ROW_WORDS]) private _rows;
    // When each uid was last replaced, as blocks after genesis (0: never), 8 uids of 32 bits a word.
    // A weight a row gave a uid before the row's holder wrote it again counts only if it was written
    // after that uid's last replacement: a replaced uid's column is cleared lazily, by reads and the
    // next write of each row, so a replacement does not touch every row.
    mapping(uint256 word => uint256) private _replacedAt;
    /// @notice The block of the latest replacement (0: none yet); rows written after it need no clearing.
    uint256 public lastReplacementBlock;

    mapping(uint256 epoch => Epoch) private _epochs;
    mapping(uint256 epoch => mapping(uint256 uid => bytes32)) private _commitments;
    mapping(uint256 epoch => BitMaps.BitMap) private _revealed;
    mapping(uint256 epoch => mapping(bytes32 result => uint256)) private _resultStake;
    mapping(uint256 epoch => BitMaps.BitMap) private _claimed;

    /// @param token_ the Agora token; this contract must be its minter to pay emission.
    /// @param admin receives DEFAULT_ADMIN_ROLE (transferred only through the delay) and PARAMETER_ADMIN_ROLE.
    /// @param adminDelay seconds a default-admin transfer waits (OpenZeppelin AccessControlDefaultAdminRules).
    /// @param config every parameter; each is checked against its bounds.
    /// @notice Deploys the market with its fixed parameters and the initial economic ones.
    constructor(
        AgoraToken token_,
        address admin,
        uint48 adminDelay,
        Config memory config
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (address(token_) == address(0)) revert ZeroAddress();
        _checkConfig("maxPeers", config.maxPeers, 1, MAX_PEERS_LIMIT);
        _checkConfig("epochLength", config.epochLength, 1, MAX_BLOCKS);
        _checkConfig("commitBlocks", config.commitBlocks, 1, MAX_BLOCKS);
        _checkConfig("revealBlocks", config.revealBlocks, 1, MAX_BLOCKS);
        _checkConfig("maxTau", config.maxTau, 1, WAD);
        token = token_;
        maxPeers = config.maxPeers;
        epochLength = config.epochLength;
        commitBlocks = config.commitBlocks;
        revealBlocks = config.revealBlocks;
        maxTau = config.maxTau;
        genesisBlock = block.number;
        _grantRole(PARAMETER_ADMIN_ROLE, admin);
        _setParameter(Parameter.Lambda, config.lambda);
        _setParameter(Parameter.Quorum, config.quorum);
        _setParameter(Parameter.Rho, config.rho);
        _setParameter(Parameter.Theta, config.theta);
        _setParameter(Parameter.Tau, config.tau);
        _setParameter(Parameter.MinStakeToSetWeights, config.minStakeToSetWeights);
        _setParameter(Parameter.WeightsRateLimit, config.weightsRateLimit);
        _setParameter(Parameter.UnbondingBlocks, config.unbondingBlocks);
        _setParameter(Parameter.RegistrationBurn, config.registrationBurn);
        _setParameter(Parameter.ImmunityBlocks, config.immunityBlocks);
    }

    // ---------------------------------------------------------------- registration

    /// @notice Registers the caller, burning `registrationBurn` of its tokens (approve them first);
    /// returns its uid. A full market gives it the uid of its weakest peer past immunity (the least
    /// stake, ties to the lower uid), whose stake goes into that peer's unbonding and whose row and
    /// column are cleared; with every peer immune it reverts MarketFull.
    /// @return uid the caller's uid.
    function register() external nonReentrant returns (uint256 uid) {
        return _register(msg.sender, msg.sender);
    }

    /// @notice Lets a registered peer subscribe a newcomer (whitepaper §5), burning the
    /// registration cost from the caller's tokens; returns the new uid. Same rules as `register`.
    /// @param account the newcomer's account.
    /// @return uid its uid.
    function registerFor(address account) external nonReentrant returns (uint256 uid) {
        _uidOf(msg.sender);
        if (account == address(0)) revert ZeroAddress();
        return _register(account, msg.sender);
    }

    // ---------------------------------------------------------------- stake

    /// @notice Adds `amount` of the caller's tokens to the stake of peer `uid`. The stake belongs
    /// to that peer: this is how a peer bootstraps a newcomer.
    /// @param uid the peer staked.
    /// @param amount tokens pulled from the caller.
    function stake(uint256 uid, uint256 amount) external nonReentrant {
        _checkUid(uid);
        if (amount == 0) revert ZeroAmount();
        uint256 before = token.balanceOf(address(this));
        IERC20(address(token)).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert UnsupportedToken(address(token), amount, received);
        uint256 newStake = _increaseStake(uid, amount);
        emit Staked(uid, msg.sender, amount, newStake);
    }

    /// @notice Moves `amount` of the caller's stake into unbonding. It can be withdrawn
    /// `unbondingBlocks` after the latest unstake, and never before every epoch it voted in is over
    /// (the end of the reveal window of the last epoch whose snapshot it was held through).
    /// @param amount tokens of stake to unbond.
    function unstake(uint256 amount) external {
        uint256 uid = _uidOf(msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 current = _stake[uid].latest();
        if (amount > current) revert InsufficientStake(uid, current, amount);
        uint256 newStake = _decreaseStake(uid, amount);
        uint256 release = _addUnbonding(msg.sender, _unbonding[msg.sender], amount);
        emit Unstaked(uid, amount, newStake, release);
    }

    /// @notice Sends the caller every unbonded token whose release block has come: what it unstaked,
    /// and what a replacement of its uid unbonded for it (each released on its own). Works for a peer
    /// that was replaced too.
    function withdraw() external nonReentrant {
        (uint256 own, uint256 ownRelease) = _takeReleased(_unbonding[msg.sender]);
        (uint256 replaced, uint256 replacedRelease) = _takeReleased(_replacedUnbonding[msg.sender]);
        uint256 amount = own + replaced + released[msg.sender];
        released[msg.sender] = 0;
        if (amount == 0) {
            if (ownRelease == 0 && replacedRelease == 0) revert NothingToWithdraw(msg.sender);
            uint256 next =
                ownRelease == 0 || (replacedRelease != 0 && replacedRelease < ownRelease)
                    ? replacedRelease
                    : ownRelease;
            revert StillUnbonding(msg.sender, next, block.number);
        }
        totalUnbonding -= amount;
        IERC20(address(token)).safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // ---------------------------------------------------------------- weights

    /// @notice Sets the caller's weight row from sparse (uid, value) pairs, uids strictly increasing.
    /// The row is normalized to sum 65535 (see WeightRow) and the stored row moves toward it with
    /// the learning rate lambda.
    /// @param uids the uids weighted, strictly increasing and below peerCount.
    /// @param values their weights, in any scale; not all zero.
    function setWeights(uint16[] calldata uids, uint16[] calldata values) external {
        (uint256 uid, PeerState memory state, Core memory core) = _checkWeightSetter();
        uint256 n = core.peerCount;
        if (uids.length != values.length) revert LengthMismatch(uids.length, values.length);
        uint256[] memory target = new uint256[](WeightRow.wordsFor(n));
        uint256 sum;
        uint256 previous;
        // uids are checked below n <= 4096 and values are uint16: nothing here can overflow.
        unchecked {
            for (uint256 i; i < uids.length; ++i) {
                uint256 u = uids[i];
                uint256 v = values[i];
                if (i != 0 && u <= previous) revert UidsNotIncreasing(i, previous, u);
                if (u >= n) revert UidOutOfRange(u, n);
                sum += v;
                target[u >> 4] |= v << ((u & 15) << 4);
                previous = u;
            }
        }
        if (sum == 0) revert AllWeightsZero();
        if (sum != WeightRow.ROW_TOTAL) target = WeightRow.normalizePacked(target, sum);
        _writeRow(uid, state, core.lambda, target);
    }

    /// @notice Sets the caller's weight row from a dense packed row: word w holds the weights of
    /// uids 16w..16w+15, uid 16w+m in bits [16m, 16m+16). Missing trailing words are zeros.
    /// Same normalization and learning rate as `setWeights`; a row that already sums to 65535
    /// (as the SDK's `normalizeRow` makes it) is stored without any rounding work, and with
    /// lambda = 1 goes straight from calldata to storage.
    /// @param row the packed row, at most wordsFor(peerCount) words; not all zero.
    function setWeightsPacked(uint256[] calldata row) external {
        (uint256 uid, PeerState memory state, Core memory core) = _checkWeightSetter();
        uint256 n = core.peerCount;
        uint256 words = WeightRow.wordsFor(n);
        uint256 given = row.length;
        if (given > words) revert PackedRowTooLong(given, words);
        uint256 tail = n & 15;
        if (given == words && tail != 0) _checkTail(row[words - 1], words - 1, tail, n);
        uint256 sum;
        // At most 256 words of 16 lanes of 16 bits: neither the sum nor the counters can overflow.
        unchecked {
            for (uint256 w; w < given; ++w) sum += WeightRow.laneSum(row[w]);
        }
        if (sum == 0) revert AllWeightsZero();
        if (sum == WeightRow.ROW_TOTAL && core.lambda == WAD) {
            uint256[MAX_ROW_WORDS] storage stored = _rows[uid];
            unchecked {
                for (uint256 w; w < given; ++w) stored[w] = row[w];
                for (uint256 w = given; w < words; ++w) stored[w] = 0;
            }
            _recordWrite(uid);
            return;
        }
        uint256[] memory target = new uint256[](words);
        for (uint256 w; w < given; ++w) target[w] = row[w];
        if (sum != WeightRow.ROW_TOTAL) target = WeightRow.normalizePacked(target, sum);
        _writeRow(uid, state, core.lambda, target);
    }

    // ---------------------------------------------------------------- epochs

    /// @notice Commits a validator's result for epoch `epoch` (see `resultCommitment`). Open during
    /// the commitBlocks after the snapshot, to peers with stake that counts in the epoch.
    /// @param epoch the epoch.
    /// @param commitment resultCommitment(epoch, root, totalEmission, salt, msg.sender).
    function commitResult(uint256 epoch, bytes32 commitment) external {
        uint256 uid = _uidOf(msg.sender);
        uint256 snapshot = snapshotBlock(epoch);
        uint256 closes = snapshot + commitBlocks;
        if (block.number <= snapshot || block.number > closes) {
            revert NotInCommitWindow(epoch, block.number, snapshot, closes);
        }
        if (_voteStake(uid, epoch, snapshot) == 0) revert NoStakeThatCounts(epoch, uid);
        if (_commitments[epoch][uid] != bytes32(0)) revert AlreadyCommitted(epoch, uid);
        if (commitment == bytes32(0)) revert ZeroCommitment(epoch, uid);
        _commitments[epoch][uid] = commitment;
        emit ResultCommitted(epoch, uid, commitment);
    }

    /// @notice Reveals a committed result. Its vote weight is the validator's stake that counts in
    /// the epoch; once the stake behind one (root, totalEmission) exceeds quorum * the epoch's total
    /// stake that counts, the epoch is final. Reverts if totalEmission exceeds tau * that total.
    /// A validator that committed must reveal, even once the epoch is final, or it forfeits its
    /// own emission of the epoch (`UnrevealedCommitment`).
    /// @param epoch the epoch.
    /// @param root the Merkle root of the epoch's emission, leaves (uid, amount).
    /// @param totalEmission the sum of the leaves' amounts.
    /// @param salt the salt of the commitment.
    function revealResult(uint256 epoch, bytes32 root, uint256 totalEmission, bytes32 salt) external {
        uint256 uid = _uidOf(msg.sender);
        _reveal(epoch, uid, root, totalEmission, salt, _voteStake(uid, epoch, snapshotBlock(epoch)));
    }

    /// @notice Reveals, for a peer replaced after the snapshot, the result it committed while it
    /// held `uid`: its vote counts with the stake that counted in the epoch, and its own emission of
    /// the epoch is not forfeited. Same windows and checks as `revealResult`.
    /// @param epoch the epoch.
    /// @param uid the uid the caller held at the epoch's snapshot.
    /// @param root the Merkle root of the epoch's emission.
    /// @param totalEmission the sum of the leaves' amounts.
    /// @param salt the salt of the commitment.
    function revealAsFormerHolder(
        uint256 epoch,
        uint256 uid,
        bytes32 root,
        uint256 totalEmission,
        bytes32 salt
    ) external {
        FormerHolder memory f = _formerHolders[uid];
        uint256 snapshot = snapshotBlock(epoch);
        if (f.account != msg.sender || f.since > snapshot || f.until <= snapshot)
            revert NotHolderAtSnapshot(epoch, uid);
        _reveal(epoch, uid, root, totalEmission, salt, _countingStake(uid, epoch));
    }

    /// @notice Records that an epoch lapsed: its reveal window is over and no result reached quorum.
    /// Permissionless; only an event and the stored state change (a lapsed epoch emits nothing).
    /// @param epoch the epoch.
    function closeEpoch(uint256 epoch) external {
        uint256 closes = snapshotBlock(epoch) + commitBlocks + revealBlocks;
        if (block.number <= closes) revert EpochNotOver(epoch, closes);
        Epoch storage e = _epochs[epoch];
        if (e.state != EpochState.Open) revert EpochAlreadyClosed(epoch, epochStatus(epoch));
        e.state = EpochState.Lapsed;
        emit EpochLapsed(epoch);
    }

    /// @notice Claims uid `uid`'s emission of a finalized epoch: the leaf (uid, amount) of the
    /// epoch's StandardMerkleTree root. Mints `amount` into the stake of the peer that held the uid
    /// at the snapshot (into its unbonding if it has been replaced since). Anyone may claim for
    /// anyone; each leaf pays once; a uid that committed and did not reveal gets nothing.
    /// @param epoch the finalized epoch.
    /// @param uid the peer paid.
    /// @param amount the leaf's amount.
    /// @param proof the leaf's Merkle proof.
    function claim(uint256 epoch, uint256 uid, uint256 amount, bytes32[] calldata proof) external {
        _claim(epoch, uid, amount, proof);
        token.mint(address(this), amount);
    }

    /// @notice `claim` for many leaves, of one or several epochs, with one mint.
    /// @param claims the leaves, each with its proof.
    function claimMany(Claim[] calldata claims) external {
        uint256 minted;
        for (uint256 i; i < claims.length; ++i) {
            Claim calldata c = claims[i];
            _claim(c.epoch, c.uid, c.amount, c.proof);
            minted += c.amount;
        }
        if (minted > 0) token.mint(address(this), minted);
    }

    // ---------------------------------------------------------------- parameters

    /// @notice Changes one economic parameter within its bounds (see `parameterBounds`).
    /// A change of tau or quorum applies to epochs whose snapshot is at or after this block.
    /// @param parameter the parameter.
    /// @param value its new value.
    function setParameter(Parameter parameter, uint256 value) external onlyRole(PARAMETER_ADMIN_ROLE) {
        _setParameter(parameter, value);
    }

    /// @notice The inclusive bounds of a parameter.
    /// @param parameter the parameter.
    /// @return min its least value.
    /// @return max its greatest value.
    function parameterBounds(Parameter parameter) public view returns (uint256 min, uint256 max) {
        if (parameter == Parameter.Lambda) return (1, WAD);
        if (parameter == Parameter.Quorum) return (WAD / 2, WAD - 1);
        if (parameter == Parameter.Rho) return (1, MAX_RHO);
        if (parameter == Parameter.Theta) return (1, WAD - 1);
        if (parameter == Parameter.Tau) return (0, maxTau);
        if (parameter == Parameter.MinStakeToSetWeights || parameter == Parameter.RegistrationBurn) {
            return (0, type(uint128).max);
        }
        return (0, MAX_BLOCKS); // WeightsRateLimit, UnbondingBlocks, ImmunityBlocks
    }

    /// @notice Every parameter as in force now (deploy-time ones included).
    /// @return config the parameters, in the deployment's Config layout.
    function parameters() external view returns (Config memory config) {
        Core memory core = _core;
        Thresholds memory t = _thresholds;
        config = Config({
            maxPeers: maxPeers,
            epochLength: epochLength,
            commitBlocks: commitBlocks,
            revealBlocks: revealBlocks,
            lambda: core.lambda,
            quorum: _quorum.latest(),
            rho: t.rho,
            theta: core.theta,
            tau: _tau.latest(),
            minStakeToSetWeights: t.minStakeToSetWeights,
            weightsRateLimit: core.weightsRateLimit,
            unbondingBlocks: core.unbondingBlocks,
            maxTau: maxTau,
            registrationBurn: registrationBurn,
            immunityBlocks: core.immunityBlocks
        });
    }

    /// @notice tau in force at block `blockNumber`.
    /// @param blockNumber a block, at most the current one.
    function tauAt(uint256 blockNumber) external view returns (uint256) {
        return _tau.upperLookupRecent(_past(blockNumber));
    }

    /// @notice quorum in force at block `blockNumber`.
    /// @param blockNumber a block, at most the current one.
    function quorumAt(uint256 blockNumber) external view returns (uint256) {
        return _quorum.upperLookupRecent(_past(blockNumber));
    }

    // ---------------------------------------------------------------- views

    /// @notice Number of registered peers; uids are 0..peerCount-1.
    function peerCount() external view returns (uint256) {
        return _core.peerCount;
    }

    /// @notice Least stake a peer needs to set weights (token wei).
    function minStakeToSetWeights() external view returns (uint256) {
        return _thresholds.minStakeToSetWeights;
    }

    /// @notice Connectivity scale of the rank (WAD), an input of the SDK's epoch computation.
    function rho() external view returns (uint256) {
        return _thresholds.rho;
    }

    /// @notice The uid of a registered account; reverts with NotRegistered otherwise.
    /// @param account the account.
    function uidOf(address account) external view returns (uint256) {
        return _uidOf(account);
    }

    /// @notice Whether `account` is a registered peer.
    /// @param account the account.
    function isRegistered(address account) external view returns (bool) {
        return _peerState[account].uidPlusOne != 0;
    }

    /// @notice The account holding `uid`, its last weight update block, whether it ever set its
    /// row, and the block it registered in (its immunity runs from there).
    /// @param uid the peer.
    /// @return account its account.
    /// @return lastWeightsBlock the block of its last weight update.
    /// @return rowSet whether it ever set its row.
    /// @return registeredBlock the block it registered in.
    function peer(
        uint256 uid
    ) external view returns (address account, uint256 lastWeightsBlock, bool rowSet, uint256 registeredBlock) {
        _checkUid(uid);
        account = _accountOf[uid];
        PeerState memory p = _peerState[account];
        return (account, p.lastWeightsBlock, p.rowSet, _uids[uid].since);
    }

    /// @notice The previous holder of `uid`, if it was ever replaced (zero account otherwise).
    /// @param uid the uid.
    /// @return account the replaced peer.
    /// @return since the block it registered in.
    /// @return until the block it was replaced in.
    function formerHolder(uint256 uid) external view returns (address account, uint256 since, uint256 until) {
        FormerHolder memory f = _formerHolders[uid];
        return (f.account, f.since, f.until);
    }

    /// @notice Stake of `uid` that counts in epoch `epoch`: the least it held from the state after
    /// the previous snapshot to the state after this one (SPEC §1.2). It votes, sets the quorum's
    /// base and is the epoch function's input. Final once the snapshot block is mined.
    /// @param uid the peer.
    /// @param epoch the epoch.
    function countingStakeOf(uint256 uid, uint256 epoch) public view returns (uint256) {
        _checkUid(uid);
        return _countingStake(uid, epoch);
    }

    /// @notice Sum over every uid of the stake that counts in epoch `epoch`.
    /// @param epoch the epoch.
    function countingTotalStake(uint256 epoch) public view returns (uint256) {
        uint256 low = _lowTotalPlusOne[epoch];
        return low != 0 ? low - 1 : _totalStake.upperLookup(uint48(epochStartBlock(epoch)));
    }

    /// @notice The stake that counts in epoch `epoch` of every registered peer, by uid: the epoch
    /// function's stake input. Call it at the snapshot block's blockTag with the weight rows.
    /// @param epoch the epoch.
    /// @return stakes the stake that counts of uid i at index i.
    function getCountingStakes(uint256 epoch) external view returns (uint256[] memory stakes) {
        return getCountingStakeRange(epoch, 0, _core.peerCount);
    }

    /// @notice `getCountingStakes` for uids [from, to) only, so a large market is read in pages.
    /// @param epoch the epoch.
    /// @param from the first uid.
    /// @param to one past the last uid, at most peerCount.
    /// @return stakes the stake that counts of uid from + i at index i.
    function getCountingStakeRange(
        uint256 epoch,
        uint256 from,
        uint256 to
    ) public view returns (uint256[] memory stakes) {
        _checkRange(from, to);
        stakes = new uint256[](to - from);
        for (uint256 uid = from; uid < to; ++uid) stakes[uid - from] = _countingStake(uid, epoch);
    }

    /// @notice The commitment `commitResult` takes: it binds the chain, this market, the epoch and
    /// the validator, so a commitment is never valid anywhere else.
    /// @param epoch the epoch.
    /// @param root the emission root.
    /// @param totalEmission the emission it pays in all.
    /// @param salt the validator's secret salt.
    /// @param validator the validator's account.
    function resultCommitment(
        uint256 epoch,
        bytes32 root,
        uint256 totalEmission,
        bytes32 salt,
        address validator
    ) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), epoch, root, totalEmission, salt, validator));
    }

    /// @notice Current stake of peer `uid`.
    /// @param uid the peer.
    function stakeOf(uint256 uid) external view returns (uint256) {
        _checkUid(uid);
        return _stake[uid].latest();
    }

    /// @notice Sum of the current stakes of every peer.
    function totalStake() external view returns (uint256) {
        return _totalStake.latest();
    }

    /// @notice Stake of `uid` as of the end of block `blockNumber` (at most the current block).
    /// @param uid the peer.
    /// @param blockNumber a block, at most the current one.
    function stakeAt(uint256 uid, uint256 blockNumber) external view returns (uint256) {
        _checkUid(uid);
        return _stake[uid].upperLookupRecent(_past(blockNumber));
    }

    /// @notice Total stake as of the end of block `blockNumber` (at most the current block).
    /// @param blockNumber a block, at most the current one.
    function totalStakeAt(uint256 blockNumber) external view returns (uint256) {
        return _totalStake.upperLookupRecent(_past(blockNumber));
    }

    /// @notice Tokens `account` unstaked and the block from which they can be withdrawn.
    /// @param account a peer or a replaced peer.
    /// @return amount the tokens in unbonding.
    /// @return releaseBlock the block from which they can be withdrawn.
    function unbondingOf(address account) external view returns (uint256 amount, uint256 releaseBlock) {
        Unbonding memory u = _unbonding[account];
        return (u.amount, u.releaseBlock);
    }

    /// @notice Tokens unbonding for `account` because its uid was replaced (its stake then, and
    /// emission it earned before), and the block from which they can be withdrawn.
    /// @param account a replaced peer.
    /// @return amount the tokens in unbonding.
    /// @return releaseBlock the block from which they can be withdrawn.
    function replacedUnbondingOf(address account) external view returns (uint256 amount, uint256 releaseBlock) {
        Unbonding memory u = _replacedUnbonding[account];
        return (u.amount, u.releaseBlock);
    }

    /// @notice The stake of every registered peer, by uid. Call it at a past blockTag to read
    /// the stakes of that block.
    /// @return stakes the stake of uid i at index i.
    function getStakes() external view returns (uint256[] memory stakes) {
        uint256 n = _core.peerCount;
        stakes = new uint256[](n);
        for (uint256 uid; uid < n; ++uid) stakes[uid] = _uids[uid].stake;
    }

    /// @notice The packed weight rows of uids [from, to): `rowWords` words per row, rows one after
    /// the other, as they count: a row its holder never set (or left with no weight that counts)
    /// reads as the peer trusting only itself (65535 on its own uid), and a weight given to a uid
    /// before that uid was last replaced reads as 0. Call it at a past blockTag to read the rows
    /// of that block.
    /// @param from the first uid.
    /// @param to one past the last uid, at most peerCount.
    /// @return rowWords words per row: wordsFor(peerCount).
    /// @return words the rows.
    function getWeightRows(uint256 from, uint256 to) external view returns (uint256 rowWords, uint256[] memory words) {
        uint256 n = _core.peerCount;
        _checkRange(from, to);
        rowWords = WeightRow.wordsFor(n);
        words = new uint256[]((to - from) * rowWords);
        uint256 lastReplacement = lastReplacementBlock;
        uint256[] memory replaced;
        uint256[] memory masks;
        uint256 at;
        for (uint256 uid = from; uid < to; ++uid) {
            PeerState memory holder = _peerState[_accountOf[uid]];
            uint256 any;
            if (holder.rowSet) {
                bool stale = lastReplacement != 0 && lastReplacement >= holder.lastWeightsBlock;
                if (stale && replaced.length == 0) (replaced, masks) = _replacementBlocks(n);
                uint256[MAX_ROW_WORDS] storage row = _rows[uid];
                for (uint256 w; w < rowWords; ++w) {
                    uint256 word = row[w];
                    if (stale && word != 0) word = _dropStale(word, w, holder.lastWeightsBlock, replaced, masks);
                    words[at + w] = word;
                    any |= word;
                }
            }
            if (any == 0) words[at + (uid >> 4)] = _selfWord(uid);
            at += rowWords;
        }
    }

    /// @notice Block at which epoch `epoch` ends: its inputs are the state after this block.
    /// @param epoch the epoch.
    function snapshotBlock(uint256 epoch) public view returns (uint256) {
        return genesisBlock + (epoch + 1) * epochLength;
    }

    /// @notice Block whose end state starts epoch `epoch`: the previous snapshot (the deployment
    /// block for epoch 0). Stake counts in the epoch only if it was there already.
    /// @param epoch the epoch.
    function epochStartBlock(uint256 epoch) public view returns (uint256) {
        return genesisBlock + epoch * epochLength;
    }

    /// @notice The epoch whose snapshot block is the next one (or the current block).
    function currentEpoch() external view returns (uint256) {
        if (block.number <= genesisBlock + epochLength) return 0;
        return (block.number - genesisBlock - 1) / epochLength;
    }

    /// @notice Where epoch `epoch` is in its life.
    /// @param epoch the epoch.
    function epochStatus(uint256 epoch) public view returns (EpochStatus) {
        EpochState state = _epochs[epoch].state;
        if (state == EpochState.Finalized) return EpochStatus.Finalized;
        uint256 snapshot = snapshotBlock(epoch);
        if (block.number <= snapshot) return EpochStatus.Accumulating;
        if (block.number <= snapshot + commitBlocks) return EpochStatus.Committing;
        if (block.number <= snapshot + commitBlocks + revealBlocks) return EpochStatus.Revealing;
        return EpochStatus.Lapsed;
    }

    /// @notice Status, final root and emission, and what has been claimed, of `epoch`.
    /// @param epoch the epoch.
    /// @return status its status.
    /// @return root its final root (zero unless finalized).
    /// @return totalEmission its final emission (zero unless finalized).
    /// @return claimed the emission claimed so far.
    function epochInfo(
        uint256 epoch
    ) external view returns (EpochStatus status, bytes32 root, uint256 totalEmission, uint256 claimed) {
        Epoch memory e = _epochs[epoch];
        return (epochStatus(epoch), e.root, e.totalEmission, e.claimed);
    }

    /// @notice The commitment of validator `uid` for `epoch` (zero if none).
    /// @param epoch the epoch.
    /// @param uid the validator.
    function commitmentOf(uint256 epoch, uint256 uid) external view returns (bytes32) {
        return _commitments[epoch][uid];
    }

    /// @notice Whether validator `uid` revealed its result for `epoch`.
    /// @param epoch the epoch.
    /// @param uid the validator.
    function hasRevealed(uint256 epoch, uint256 uid) external view returns (bool) {
        return _revealed[epoch].get(uid);
    }

    /// @notice Snapshot stake revealed so far behind one (root, totalEmission).
    /// @param epoch the epoch.
    /// @param root the result's root.
    /// @param totalEmission the result's emission.
    function resultStake(uint256 epoch, bytes32 root, uint256 totalEmission) external view returns (uint256) {
        return _resultStake[epoch][keccak256(abi.encode(root, totalEmission))];
    }

    /// @notice Whether peer `uid`'s emission of `epoch` has been claimed.
    /// @param epoch the epoch.
    /// @param uid the peer.
    function isClaimed(uint256 epoch, uint256 uid) external view returns (bool) {
        return _claimed[epoch].get(uid);
    }

    /// @notice Every uid's claim flag for `epoch` in one call: uid u is bit u % 256 of word u / 256.
    /// @param epoch the epoch.
    /// @return words the bitmap, ceil(peerCount / 256) words.
    function claimedBitmap(uint256 epoch) external view returns (uint256[] memory words) {
        words = new uint256[]((uint256(_core.peerCount) + 255) / 256);
        for (uint256 w; w < words.length; ++w) words[w] = _claimed[epoch]._data[w];
    }

    // ---------------------------------------------------------------- internals

    function _register(address account, address sponsor) private returns (uint256 uid) {
        uint256 existing = _peerState[account].uidPlusOne;
        if (existing != 0) revert AlreadyRegistered(account, existing - 1);
        uint256 burn = registrationBurn;
        uid = _core.peerCount;
        if (uid < maxPeers) {
            _core.peerCount = uint32(uid + 1);
        } else {
            uid = _weakestReplaceable();
            if (uid == NO_UID) revert MarketFull(maxPeers);
            _replace(uid);
        }
        _peerState[account].uidPlusOne = uint32(uid + 1);
        _accountOf[uid] = account;
        // A new uid, or one just replaced, holds no stake.
        _uids[uid] = UidState({since: _now48(), stake: 0});
        emit PeerRegistered(uid, account, sponsor, burn);
        // The cost is burnt from the sponsor's tokens: an attacker filling the market gets none back.
        if (burn > 0) token.burnFrom(sponsor, burn);
    }

    /// @dev The uid of least stake among the peers past their immunity, ties to the lower uid;
    /// NO_UID when every peer is immune. Reads one slot a uid; stops at the first uid of zero stake past immunity.
    function _weakestReplaceable() private view returns (uint256 weakest) {
        uint256 n = _core.peerCount;
        uint256 immunity = _core.immunityBlocks;
        uint256 least = type(uint256).max;
        weakest = NO_UID;
        for (uint256 uid; uid < n; ++uid) {
            UidState memory u = _uids[uid];
            if (u.stake >= least || block.number < uint256(u.since) + immunity) continue;
            least = u.stake;
            weakest = uid;
            if (least == 0) break;
        }
    }

    /// @dev Takes `uid` from its holder: its stake goes into the holder's unbonding (it stops counting
    /// in the current epoch at once), its row and its column are cleared, and the holder is kept as
    /// the former holder so the emission it earned before still reaches it.
    function _replace(uint256 uid) private {
        address oldAccount = _accountOf[uid];
        UidState memory old = _uids[uid];
        if (old.stake > 0) {
            _decreaseStake(uid, old.stake);
            _addUnbonding(oldAccount, _replacedUnbonding[oldAccount], old.stake);
        }
        delete _peerState[oldAccount];
        _formerHolders[uid] = FormerHolder({account: oldAccount, since: old.since, until: _now48()});
        // The row and the column are cleared lazily: the newcomer has no row yet (it reads as trusting
        // only itself), and every weight on the uid written before now stops counting.
        uint256 shift = (uid & 7) << 5;
        uint256 word = _replacedAt[uid >> 3] & ~(uint256(type(uint32).max) << shift);
        _replacedAt[uid >> 3] = word | (uint256((block.number - genesisBlock).toUint32()) << shift);
        lastReplacementBlock = block.number;
        emit PeerReplaced(uid, oldAccount, old.stake);
    }

    /// @dev The replacement block of every uid below `n` (0: never replaced), from the packed words,
    /// and, for each word of a row, the mask of the lanes whose uid was ever replaced: a word that
    /// misses the mask has nothing to clear, so a replacement costs a read one word of each row.
    function _replacementBlocks(uint256 n) private view returns (uint256[] memory blocks, uint256[] memory masks) {
        blocks = new uint256[](n);
        masks = new uint256[](WeightRow.wordsFor(n));
        for (uint256 w; w < (n + 7) >> 3; ++w) {
            uint256 word = _replacedAt[w];
            for (uint256 m; word != 0 && m < 8; ++m) {
                uint256 offset = (word >> (m << 5)) & type(uint32).max;
                uint256 uid = (w << 3) | m;
                if (offset == 0 || uid >= n) continue;
                blocks[uid] = genesisBlock + offset;
                masks[uid >> 4] |= WeightRow.LANE_MASK << ((uid & 15) << 4);
            }
        }
    }

    /// @dev Zeroes the lanes of `word` (uids 16w..16w+15) whose uid was replaced at or after
    /// `writtenAt`, the block the row was written in: those weights were given to a former holder.
    function _dropStale(
        uint256 word,
        uint256 w,
        uint256 writtenAt,
        uint256[] memory replaced,
        uint256[] memory masks
    ) private pure returns (uint256) {
        for (uint256 hit = word & masks[w]; hit != 0;) {
            uint256 m;
            while ((hit >> (m << 4)) & WeightRow.LANE_MASK == 0) ++m;
            uint256 lane = WeightRow.LANE_MASK << (m << 4);
            hit &= ~lane;
            if (replaced[(w << 4) | m] >= writtenAt) word &= ~lane;
        }
        return word;
    }

    /// @dev The vote weight of `uid` in `epoch`: its stake that counts, if its holder held it
    /// at the snapshot (a newcomer on a replaced uid does not vote with its predecessor's stake).
    function _voteStake(uint256 uid, uint256 epoch, uint256 snapshot) private view returns (uint256) {
        return _uids[uid].since > snapshot ? 0 : _countingStake(uid, epoch);
    }

    /// @dev The low-water mark of `uid`'s stake over `epoch` (see `countingStakeOf`).
    function _countingStake(uint256 uid, uint256 epoch) private view returns (uint256) {
        uint256 low = _lowStakePlusOne[uid][epoch];
        return low != 0 ? low - 1 : _stake[uid].upperLookupRecent(uint48(epochStartBlock(epoch)));
    }

    /// @dev Checks the reveal window and the caller's commitment for `uid`, then tallies its vote.
    function _reveal(
        uint256 epoch,
        uint256 uid,
        bytes32 root,
        uint256 totalEmission,
        bytes32 salt,
        uint256 voteStake
    ) private {
        uint48 snapshot = uint48(snapshotBlock(epoch));
        uint256 opensAfter = snapshot + commitBlocks;
        uint256 closes = opensAfter + revealBlocks;
        if (block.number <= opensAfter || block.number > closes) {
            revert NotInRevealWindow(epoch, block.number, opensAfter, closes);
        }
        bytes32 commitment = _commitments[epoch][uid];
        if (commitment == bytes32(0)) revert NoCommitment(epoch, uid);
        if (_revealed[epoch].get(uid)) revert AlreadyRevealed(epoch, uid);
        if (resultCommitment(epoch, root, totalEmission, salt, msg.sender) != commitment) {
            revert CommitmentMismatch(epoch, uid);
        }
        _revealed[epoch].set(uid);
        _tally(epoch, uid, snapshot, root, totalEmission, voteStake);
    }

    /// @dev Adds a revealed vote to its result and finalizes the epoch on quorum.
    function _tally(
        uint256 epoch,
        uint256 uid,
        uint48 snapshot,
        bytes32 root,
        uint256 totalEmission,
        uint256 voteStake
    ) private {
        uint256 lowTotal = _lowTotalPlusOne[epoch];
        uint256 total = lowTotal != 0 ? lowTotal - 1 : _totalStake.upperLookupRecent(uint48(epochStartBlock(epoch)));
        uint256 cap = (_tau.upperLookupRecent(snapshot) * total) / WAD;
        if (totalEmission > cap) revert EmissionAboveCap(epoch, totalEmission, cap);
        bytes32 result = keccak256(abi.encode(root, totalEmission));
        uint256 support = _resultStake[epoch][result] + voteStake;
        _resultStake[epoch][result] = support;
        emit ResultRevealed(epoch, uid, root, totalEmission, voteStake);

        Epoch storage e = _epochs[epoch];
        if (e.state == EpochState.Open && support * WAD > _quorum.upperLookupRecent(snapshot) * total) {
            e.root = root;
            e.totalEmission = totalEmission.toUint120();
            e.state = EpochState.Finalized;
            emit EpochFinalized(epoch, root, totalEmission, support);
        }
    }

    function _increaseStake(uint256 uid, uint256 amount) private returns (uint256 newStake) {
        newStake = _stake[uid].latest() + amount;
        _stake[uid].push(_now48(), newStake.toUint208());
        _uids[uid].stake = uint208(newStake);
        _totalStake.push(_now48(), (_totalStake.latest() + amount).toUint208());
    }

    /// @dev Lowers `uid`'s stake by `amount` (at most its stake) and, if it falls below the
    /// low-water mark of the epoch being accumulated, lowers that mark and the epoch's total.
    function _decreaseStake(uint256 uid, uint256 amount) private returns (uint256 newStake) {
        newStake = _stake[uid].latest() - amount;
        _stake[uid].push(_now48(), uint208(newStake));
        _uids[uid].stake = uint208(newStake);
        _totalStake.push(_now48(), uint208(_totalStake.latest() - amount));
        uint256 epoch = _accumulatingEpoch();
        uint48 start = uint48(epochStartBlock(epoch));
        uint256 stored = _lowStakePlusOne[uid][epoch];
        uint256 low = stored != 0 ? stored - 1 : _stake[uid].upperLookupRecent(start);
        if (newStake >= low) return newStake;
        _lowStakePlusOne[uid][epoch] = newStake + 1;
        uint256 storedTotal = _lowTotalPlusOne[epoch];
        uint256 total = storedTotal != 0 ? storedTotal - 1 : _totalStake.upperLookupRecent(start);
        _lowTotalPlusOne[epoch] = total - (low - newStake) + 1;
    }

    /// @dev Puts `amount` into the unbonding `u`. It is released `unbondingBlocks` from now, and not
    /// before the last epoch it may have voted in (the one before the epoch being accumulated) is
    /// over, nor before what `u` already holds; returns the release block.
    function _addUnbonding(address account, Unbonding storage u, uint256 amount) private returns (uint256 release) {
        // What `u` holds that is released already stays free: it moves to `released`.
        if (u.amount != 0 && block.number >= u.releaseBlock) {
            released[account] += u.amount;
            u.amount = 0;
        }
        release = block.number + _core.unbondingBlocks;
        uint256 epoch = _accumulatingEpoch();
        if (epoch > 0) {
            uint256 votedUntil = snapshotBlock(epoch - 1) + commitBlocks + revealBlocks + 1;
            if (votedUntil > release) release = votedUntil;
        }
        u.amount = (uint256(u.amount) + amount).toUint208();
        if (release > u.releaseBlock) u.releaseBlock = uint48(release);
        else release = u.releaseBlock;
        totalUnbonding += amount;
    }

    /// @dev Empties `u` if it holds tokens whose release block has come; returns them (0 if not
    /// released yet) and the release block (0 if `u` is empty).
    function _takeReleased(Unbonding storage u) private returns (uint256 amount, uint256 release) {
        Unbonding memory held = u;
        release = held.amount == 0 ? 0 : held.releaseBlock;
        if (held.amount == 0 || block.number < held.releaseBlock) return (0, release);
        delete u.amount;
        delete u.releaseBlock;
        return (held.amount, release);
    }

    /// @dev The epoch whose snapshot is the current block or the next one.
    function _accumulatingEpoch() private view returns (uint256) {
        return block.number > genesisBlock ? (block.number - genesisBlock - 1) / epochLength : 0;
    }

    /// @dev Checks the caller may set weights now; returns its uid, state and the market core.
    function _checkWeightSetter() private view returns (uint256 uid, PeerState memory state, Core memory core) {
        state = _peerState[msg.sender];
        if (state.uidPlusOne == 0) revert NotRegistered(msg.sender);
        uid = state.uidPlusOne - 1;
        core = _core;
        uint256 current = _stake[uid].latest();
        uint256 minimum = _thresholds.minStakeToSetWeights;
        if (current < minimum) revert StakeBelowMinimum(uid, current, minimum);
        if (state.rowSet) {
            uint256 next = uint256(state.lastWeightsBlock) + core.weightsRateLimit;
            if (block.number < next) revert WeightsRateLimited(uid, next);
        }
    }

    /// @dev Moves the stored row toward `target` (whitepaper eq. 17) and records the update.
    function _writeRow(uint256 uid, PeerState memory state, uint256 lambda, uint256[] memory target) private {
        uint256[MAX_ROW_WORDS] storage row = _rows[uid];
        uint256 words = target.length;
        if (lambda == WAD) {
            unchecked {
                for (uint256 w; w < words; ++w) row[w] = target[w];
            }
        } else {
            uint256 selfIndex = uid >> 4;
            uint256 selfWord = _selfWord(uid);
            // Weights given to uids replaced since the row was written do not carry into the update.
            bool stale = state.rowSet && lastReplacementBlock >= state.lastWeightsBlock;
            uint256[] memory replaced;
            uint256[] memory masks;
            if (stale) (replaced, masks) = _replacementBlocks(_core.peerCount);
            for (uint256 w; w < words; ++w) {
                uint256 old = state.rowSet ? row[w] : (w == selfIndex ? selfWord : 0);
                if (stale && old != 0) old = _dropStale(old, w, state.lastWeightsBlock, replaced, masks);
                row[w] = WeightRow.ema(old, target[w], lambda);
            }
        }
        _recordWrite(uid);
    }

    function _recordWrite(uint256 uid) private {
        PeerState storage state = _peerState[msg.sender];
        state.rowSet = true;
        state.lastWeightsBlock = _now48();
        emit WeightsSet(uid);
    }

    /// @dev Reverts with the first uid at or beyond `n` that the last word gives a weight.
    function _checkTail(uint256 lastWord, uint256 lastIndex, uint256 tail, uint256 n) private pure {
        uint256 beyond = lastWord >> (tail << 4);
        if (beyond == 0) return;
        uint256 lane = tail;
        while (beyond & WeightRow.LANE_MASK == 0) {
            beyond >>= 16;
            ++lane;
        }
        revert UidOutOfRange((lastIndex << 4) + lane, n);
    }

    function _claim(uint256 epoch, uint256 uid, uint256 amount, bytes32[] calldata proof) private {
        Epoch storage e = _epochs[epoch];
        if (e.state != EpochState.Finalized) revert EpochNotFinalized(epoch);
        _checkUid(uid);
        if (_claimed[epoch].get(uid)) revert AlreadyClaimed(epoch, uid);
        if (!_revealed[epoch].get(uid) && _commitments[epoch][uid] != bytes32(0)) {
            revert UnrevealedCommitment(epoch, uid);
        }
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(uid, amount))));
        if (!MerkleProof.verifyCalldata(proof, e.root, leaf)) revert InvalidProof(epoch, uid, amount);
        uint256 claimed = e.claimed;
        uint256 total = e.totalEmission;
        if (claimed + amount > total) revert ClaimExceedsEmission(epoch, claimed, amount, total);
        e.claimed = uint120(claimed + amount);
        _claimed[epoch].set(uid);
        uint256 snapshot = snapshotBlock(epoch);
        if (_uids[uid].since <= snapshot) {
            uint256 newStake = _increaseStake(uid, amount);
            emit EmissionClaimed(epoch, uid, _accountOf[uid], amount);
            emit Staked(uid, address(0), amount, newStake);
            return;
        }
        FormerHolder memory f = _formerHolders[uid];
        if (f.since > snapshot || f.until <= snapshot) revert NotHolderAtSnapshot(epoch, uid);
        // The peer that earned it has been replaced: its emission joins what the replacement
        // unbonded for it, and is released with it (at once if that is released already).
        Unbonding storage u = _replacedUnbonding[f.account];
        u.amount = (uint256(u.amount) + amount).toUint208();
        totalUnbonding += amount;
        emit EmissionClaimed(epoch, uid, f.account, amount);
    }

    function _setParameter(Parameter parameter, uint256 value) private {
        (uint256 min, uint256 max) = parameterBounds(parameter);
        if (value < min || value > max) revert ParameterOutOfBounds(parameter, value, min, max);
        uint256 previous;
        if (parameter == Parameter.Lambda) {
            previous = _core.lambda;
            _core.lambda = uint64(value);
        } else if (parameter == Parameter.Quorum) {
            previous = _quorum.latest();
            _quorum.push(_now48(), uint208(value));
        } else if (parameter == Parameter.Rho) {
            previous = _thresholds.rho;
            _thresholds.rho = uint128(value);
        } else if (parameter == Parameter.Theta) {
            previous = _core.theta;
            _core.theta = uint64(value);
        } else if (parameter == Parameter.Tau) {
            previous = _tau.latest();
            _tau.push(_now48(), uint208(value));
        } else if (parameter == Parameter.MinStakeToSetWeights) {
            previous = _thresholds.minStakeToSetWeights;
            _thresholds.minStakeToSetWeights = uint128(value);
        } else if (parameter == Parameter.WeightsRateLimit) {
            previous = _core.weightsRateLimit;
            _core.weightsRateLimit = uint32(value);
        } else if (parameter == Parameter.UnbondingBlocks) {
            previous = _core.unbondingBlocks;
            _core.unbondingBlocks = uint32(value);
        } else if (parameter == Parameter.RegistrationBurn) {
            previous = registrationBurn;
            registrationBurn = value;
        } else {
            previous = _core.immunityBlocks;
            _core.immunityBlocks = uint32(value);
        }
        emit ParameterChanged(parameter, previous, value);
    }

    function _uidOf(address account) private view returns (uint256) {
        uint256 plusOne = _peerState[account].uidPlusOne;
        if (plusOne == 0) revert NotRegistered(account);
        return plusOne - 1;
    }

    function _checkRange(uint256 from, uint256 to) private view {
        uint256 n = _core.peerCount;
        if (from > to || to > n) revert RangeInvalid(from, to, n);
    }

    function _checkUid(uint256 uid) private view {
        uint256 n = _core.peerCount;
        if (uid >= n) revert UnknownUid(uid, n);
    }

    function _past(uint256 blockNumber) private view returns (uint48) {
        if (blockNumber > block.number) revert FutureBlock(blockNumber, block.number);
        return uint48(blockNumber);
    }

    function _now48() private view returns (uint48) {
        return uint48(block.number);
    }

    function _selfWord(uint256 uid) private pure returns (uint256) {
        return WeightRow.ROW_TOTAL << ((uid & 15) << 4);
    }

    function _checkConfig(string memory field, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert InvalidConfig(field, value);
    }
}
