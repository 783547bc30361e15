// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
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
///  - token.balanceOf(this) == totalStake() + totalUnbonding (every token held is owed to a peer);
///  - totalStake() == sum of stakeOf(uid) over all uids, at every block (both checkpointed);
///  - a finalized epoch never pays out more than its revealed totalEmission.
contract RankingMarket is IRankingMarket, AccessControl, ReentrancyGuardTransient {
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
    }

    struct Thresholds {
        uint128 minStakeToSetWeights;
        uint128 rho;
    }

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

    /// @notice Tokens in unbonding, owed to peers but no longer stake.
    uint256 public totalUnbonding;
    Core private _core;
    Thresholds private _thresholds;
    // tau and quorum act on epochs after their snapshot: kept per block so each epoch uses the
    // values in force at its snapshot, whatever an admin changes later.
    Checkpoints.Trace208 private _tau;
    Checkpoints.Trace208 private _quorum;

    mapping(address account => PeerState) private _peerState;
    mapping(uint256 uid => address) private _accountOf;
    mapping(uint256 uid => Checkpoints.Trace208) private _stake;
    Checkpoints.Trace208 private _totalStake;
    mapping(uint256 uid => Unbonding) private _unbonding;
    // Dense rows: weight of uid i for peer j lives in word j / 16 of row i, lane j % 16.
    mapping(uint256 uid => uint256[MAX_ROW_WORDS]) private _rows;

    mapping(uint256 epoch => Epoch) private _epochs;
    mapping(uint256 epoch => mapping(uint256 uid => bytes32)) private _commitments;
    mapping(uint256 epoch => BitMaps.BitMap) private _revealed;
    mapping(uint256 epoch => mapping(bytes32 result => uint256)) private _resultStake;
    mapping(uint256 epoch => BitMaps.BitMap) private _claimed;

    /// @param token_ the Agora token; this contract must hold its MINTER_ROLE to pay emission.
    /// @param admin receives DEFAULT_ADMIN_ROLE and PARAMETER_ADMIN_ROLE.
    /// @param config every parameter; each is checked against its bounds.
    /// @notice Deploys the market with its fixed parameters and the initial economic ones.
    constructor(AgoraToken token_, address admin, Config memory config) {
        if (address(token_) == address(0)) revert ZeroAddress();
        if (admin == address(0)) revert ZeroAddress();
        _checkConfig("maxPeers", config.maxPeers, 1, MAX_PEERS_LIMIT);
        _checkConfig("epochLength", config.epochLength, 1, MAX_BLOCKS);
        _checkConfig("commitBlocks", config.commitBlocks, 1, MAX_BLOCKS);
        _checkConfig("revealBlocks", config.revealBlocks, 1, MAX_BLOCKS);
        token = token_;
        maxPeers = config.maxPeers;
        epochLength = config.epochLength;
        commitBlocks = config.commitBlocks;
        revealBlocks = config.revealBlocks;
        genesisBlock = block.number;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PARAMETER_ADMIN_ROLE, admin);
        _setParameter(Parameter.Lambda, config.lambda);
        _setParameter(Parameter.Quorum, config.quorum);
        _setParameter(Parameter.Rho, config.rho);
        _setParameter(Parameter.Theta, config.theta);
        _setParameter(Parameter.Tau, config.tau);
        _setParameter(Parameter.MinStakeToSetWeights, config.minStakeToSetWeights);
        _setParameter(Parameter.WeightsRateLimit, config.weightsRateLimit);
        _setParameter(Parameter.UnbondingBlocks, config.unbondingBlocks);
    }

    // ---------------------------------------------------------------- registration

    /// @notice Registers the caller as the next peer; returns its uid.
    /// @return uid the caller's uid.
    function register() external returns (uint256 uid) {
        return _register(msg.sender, msg.sender);
    }

    /// @notice Lets a registered peer subscribe a newcomer (whitepaper §5); returns the new uid.
    /// @param account the newcomer's account.
    /// @return uid its uid.
    function registerFor(address account) external returns (uint256 uid) {
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

    /// @notice Moves `amount` of the caller's stake into unbonding; it can be withdrawn
    /// `unbondingBlocks` after the latest unstake.
    /// @param amount tokens of stake to unbond.
    function unstake(uint256 amount) external {
        uint256 uid = _uidOf(msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 current = _stake[uid].latest();
        if (amount > current) revert InsufficientStake(uid, current, amount);
        uint256 newStake = current - amount;
        _stake[uid].push(_now48(), uint208(newStake));
        _totalStake.push(_now48(), uint208(_totalStake.latest() - amount));
        Unbonding storage u = _unbonding[uid];
        u.amount = (uint256(u.amount) + amount).toUint208();
        uint256 release = block.number + _core.unbondingBlocks;
        u.releaseBlock = uint48(release);
        totalUnbonding += amount;
        emit Unstaked(uid, amount, newStake, release);
    }

    /// @notice Sends the caller's unbonded tokens to the caller once the unbonding period is over.
    function withdraw() external nonReentrant {
        uint256 uid = _uidOf(msg.sender);
        Unbonding memory u = _unbonding[uid];
        if (u.amount == 0) revert NothingToWithdraw(uid);
        if (block.number < u.releaseBlock) revert StillUnbonding(uid, u.releaseBlock, block.number);
        delete _unbonding[uid];
        totalUnbonding -= u.amount;
        IERC20(address(token)).safeTransfer(msg.sender, u.amount);
        emit Withdrawn(uid, msg.sender, u.amount);
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
        if (sum != WeightRow.ROW_TOTAL) _normalizePacked(target, sum);
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
        if (sum != WeightRow.ROW_TOTAL) _normalizePacked(target, sum);
        _writeRow(uid, state, core.lambda, target);
    }

    // ---------------------------------------------------------------- epochs

    /// @notice Commits a validator's result for epoch `epoch`:
    /// commitment = keccak256(abi.encode(root, totalEmission, salt, msg.sender)).
    /// Open during the commitBlocks after the snapshot, to peers with stake at the snapshot.
    /// @param epoch the epoch.
    /// @param commitment keccak256(abi.encode(root, totalEmission, salt, msg.sender)).
    function commitResult(uint256 epoch, bytes32 commitment) external {
        uint256 uid = _uidOf(msg.sender);
        uint256 snapshot = snapshotBlock(epoch);
        uint256 closes = snapshot + commitBlocks;
        if (block.number <= snapshot || block.number > closes) {
            revert NotInCommitWindow(epoch, block.number, snapshot, closes);
        }
        if (_stake[uid].upperLookupRecent(uint48(snapshot)) == 0) revert NoStakeAtSnapshot(epoch, uid);
        if (_commitments[epoch][uid] != bytes32(0)) revert AlreadyCommitted(epoch, uid);
        if (commitment == bytes32(0)) revert ZeroCommitment(epoch, uid);
        _commitments[epoch][uid] = commitment;
        emit ResultCommitted(epoch, uid, commitment);
    }

    /// @notice Reveals a committed result. Its vote weight is the validator's stake at the
    /// snapshot; once the stake behind one (root, totalEmission) exceeds quorum * total snapshot
    /// stake, the epoch is final. Reverts if totalEmission exceeds tau * total snapshot stake.
    /// @param epoch the epoch.
    /// @param root the Merkle root of the epoch's emission, leaves (uid, amount).
    /// @param totalEmission the sum of the leaves' amounts.
    /// @param salt the salt of the commitment.
    function revealResult(uint256 epoch, bytes32 root, uint256 totalEmission, bytes32 salt) external {
        uint256 uid = _uidOf(msg.sender);
        uint48 snapshot = uint48(snapshotBlock(epoch));
        uint256 opensAfter = snapshot + commitBlocks;
        uint256 closes = opensAfter + revealBlocks;
        if (block.number <= opensAfter || block.number > closes) {
            revert NotInRevealWindow(epoch, block.number, opensAfter, closes);
        }
        bytes32 commitment = _commitments[epoch][uid];
        if (commitment == bytes32(0)) revert NoCommitment(epoch, uid);
        if (_revealed[epoch].get(uid)) revert AlreadyRevealed(epoch, uid);
        if (keccak256(abi.encode(root, totalEmission, salt, msg.sender)) != commitment) {
            revert CommitmentMismatch(epoch, uid);
        }
        _revealed[epoch].set(uid);
        _tally(epoch, uid, snapshot, root, totalEmission);
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

    /// @notice Claims peer `uid`'s emission of a finalized epoch: the leaf (uid, amount) of the
    /// epoch's StandardMerkleTree root. Mints `amount` and adds it to the peer's stake. Anyone may
    /// claim for anyone; each leaf pays once.
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
    function parameterBounds(Parameter parameter) public pure returns (uint256 min, uint256 max) {
        if (parameter == Parameter.Lambda) return (1, WAD);
        if (parameter == Parameter.Quorum) return (WAD / 2, WAD - 1);
        if (parameter == Parameter.Rho) return (1, MAX_RHO);
        if (parameter == Parameter.Theta) return (1, WAD - 1);
        if (parameter == Parameter.Tau) return (0, WAD);
        if (parameter == Parameter.MinStakeToSetWeights) return (0, type(uint128).max);
        return (0, MAX_BLOCKS); // WeightsRateLimit, UnbondingBlocks
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
            unbondingBlocks: core.unbondingBlocks
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

    /// @notice The account, last weight update block and whether the row was ever set, of `uid`.
    /// @param uid the peer.
    /// @return account its account.
    /// @return lastWeightsBlock the block of its last weight update.
    /// @return rowSet whether it ever set its row.
    function peer(uint256 uid) external view returns (address account, uint256 lastWeightsBlock, bool rowSet) {
        _checkUid(uid);
        account = _accountOf[uid];
        PeerState memory p = _peerState[account];
        return (account, p.lastWeightsBlock, p.rowSet);
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

    /// @notice Tokens of `uid` in unbonding and the block from which they can be withdrawn.
    /// @param uid the peer.
    /// @return amount the tokens in unbonding.
    /// @return releaseBlock the block from which they can be withdrawn.
    function unbondingOf(uint256 uid) external view returns (uint256 amount, uint256 releaseBlock) {
        _checkUid(uid);
        Unbonding memory u = _unbonding[uid];
        return (u.amount, u.releaseBlock);
    }

    /// @notice The stake of every registered peer, by uid. Call it at a past blockTag to read
    /// the stakes of that block.
    /// @return stakes the stake of uid i at index i.
    function getStakes() external view returns (uint256[] memory stakes) {
        uint256 n = _core.peerCount;
        stakes = new uint256[](n);
        for (uint256 uid; uid < n; ++uid) stakes[uid] = _stake[uid].latest();
    }

    /// @notice The packed weight rows of uids [from, to): `rowWords` words per row, rows one after
    /// the other. A row never set reads as the peer trusting only itself (65535 on its own uid).
    /// Call it at a past blockTag to read the rows of that block.
    /// @param from the first uid.
    /// @param to one past the last uid, at most peerCount.
    /// @return rowWords words per row: wordsFor(peerCount).
    /// @return words the rows.
    function getWeightRows(uint256 from, uint256 to) external view returns (uint256 rowWords, uint256[] memory words) {
        uint256 n = _core.peerCount;
        if (from > to || to > n) revert RangeInvalid(from, to, n);
        rowWords = WeightRow.wordsFor(n);
        words = new uint256[]((to - from) * rowWords);
        uint256 at;
        for (uint256 uid = from; uid < to; ++uid) {
            // A row once set never sums to zero, so an all-zero row was never set.
            uint256[MAX_ROW_WORDS] storage row = _rows[uid];
            uint256 any;
            for (uint256 w; w < rowWords; ++w) {
                uint256 word = row[w];
                words[at + w] = word;
                any |= word;
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
        uid = _core.peerCount;
        if (uid >= maxPeers) revert MarketFull(maxPeers);
        _core.peerCount = uint32(uid + 1);
        _peerState[account].uidPlusOne = uint32(uid + 1);
        _accountOf[uid] = account;
        emit PeerRegistered(uid, account, sponsor);
    }

    /// @dev Adds a revealed vote to its result and finalizes the epoch on quorum.
    function _tally(uint256 epoch, uint256 uid, uint48 snapshot, bytes32 root, uint256 totalEmission) private {
        uint256 total = _totalStake.upperLookupRecent(snapshot);
        uint256 cap = (_tau.upperLookupRecent(snapshot) * total) / WAD;
        if (totalEmission > cap) revert EmissionAboveCap(epoch, totalEmission, cap);
        uint256 voteStake = _stake[uid].upperLookupRecent(snapshot);
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
        _totalStake.push(_now48(), (_totalStake.latest() + amount).toUint208());
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
            for (uint256 w; w < words; ++w) {
                uint256 old = state.rowSet ? row[w] : (w == selfIndex ? selfWord : 0);
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

    /// @dev Normalizes a dense packed row in place (general path: its lanes do not sum to 65535).
    function _normalizePacked(uint256[] memory target, uint256 sum) private pure {
        uint256 words = target.length;
        uint256 k;
        for (uint256 w; w < words; ++w) {
            for (uint256 word = target[w]; word != 0; word >>= 16) {
                if (word & WeightRow.LANE_MASK != 0) ++k;
            }
        }
        uint256[] memory vals = new uint256[](k);
        uint256[] memory uids = new uint256[](k);
        uint256 i;
        for (uint256 w; w < words; ++w) {
            uint256 word = target[w];
            target[w] = 0;
            for (uint256 m; word != 0; ++m) {
                uint256 v = word & WeightRow.LANE_MASK;
                if (v != 0) {
                    vals[i] = v;
                    uids[i] = (w << 4) | m;
                    ++i;
                }
                word >>= 16;
            }
        }
        _packSparse(target, uids, WeightRow.normalize(vals, uids, sum));
    }

    function _packSparse(uint256[] memory target, uint256[] memory uids, uint256[] memory vals) private pure {
        for (uint256 i; i < uids.length; ++i) {
            uint256 u = uids[i];
            target[u >> 4] |= vals[i] << ((u & 15) << 4);
        }
    }

    function _claim(uint256 epoch, uint256 uid, uint256 amount, bytes32[] calldata proof) private {
        Epoch storage e = _epochs[epoch];
        if (e.state != EpochState.Finalized) revert EpochNotFinalized(epoch);
        _checkUid(uid);
        if (_claimed[epoch].get(uid)) revert AlreadyClaimed(epoch, uid);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(uid, amount))));
        if (!MerkleProof.verifyCalldata(proof, e.root, leaf)) revert InvalidProof(epoch, uid, amount);
        uint256 claimed = e.claimed;
        uint256 total = e.totalEmission;
        if (claimed + amount > total) revert ClaimExceedsEmission(epoch, claimed, amount, total);
        e.claimed = uint120(claimed + amount);
        _claimed[epoch].set(uid);
        uint256 newStake = _increaseStake(uid, amount);
        emit EmissionClaimed(epoch, uid, amount);
        emit Staked(uid, address(0), amount, newStake);
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
        } else {
            previous = _core.unbondingBlocks;
            _core.unbondingBlocks = uint32(value);
        }
        emit ParameterChanged(parameter, previous, value);
    }

    function _uidOf(address account) private view returns (uint256) {
        uint256 plusOne = _peerState[account].uidPlusOne;
        if (plusOne == 0) revert NotRegistered(account);
        return plusOne - 1;
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
