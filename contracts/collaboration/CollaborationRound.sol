// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {TokenCredits} from "../token/TokenCredits.sol";

/// @title CollaborationRound
/// @notice Rounds of collaborative training paid with models (SPEC §4, "Paid with Models"). A
/// coordinator commits a menu of (contribution, model reward) items and a bond before anyone
/// joins; parties join by picking an item and posting its collateral, then record their
/// contribution (hash of the data delivered, amount); the coordinator records the trained model's
/// commitment and each party's reward (model hash, quality share). Contributors get their
/// collateral back on delivery; a party that never contributes loses its collateral to the pool,
/// shared by the contributors; a coordinator that misses its delivery deadline forfeits its bond
/// to the parties. Each of a round's three windows (joining, contributing, delivering) is within the
/// protocol's floor and ceiling, so nobody's bond or collateral is held longer than three ceilings.
/// @dev Invariant: token.balanceOf(this) == sum over rounds not settled of (bond + collateral
/// posted) + credits.
contract CollaborationRound is TokenCredits {
    using SafeCast for uint256;

    /// @notice Most items in one menu.
    uint256 public constant MAX_ITEMS = 16;
    /// @notice Most parties in one round.
    uint256 public constant MAX_PARTIES = 64;

    /// @notice The shortest window of a round (seconds), fixed at deployment.
    uint64 public immutable minWindow;
    /// @notice The longest window of a round (seconds), fixed at deployment.
    uint64 public immutable maxWindow;

    /// @notice A round's windows: from creation to joinDeadline, from joinDeadline to
    /// contributionDeadline, from contributionDeadline to deliveryDeadline.
    enum Window {
        Join,
        Contribution,
        Delivery
    }

    /// @notice One menu item: contribute at least `contribution` units for a model worth
    /// `reward` (in the menu's value units, 18 decimals), posting `collateral` tokens.
    struct Item {
        uint128 contribution;
        uint128 reward;
        uint128 collateral;
    }

    enum State {
        None,
        Open, // joining until joinDeadline, contributing until contributionDeadline
        Delivered,
        Failed // the coordinator missed its delivery deadline
    }

    struct Round {
        address coordinator;
        State state;
        uint64 joinDeadline;
        uint64 contributionDeadline;
        uint64 deliveryDeadline;
        bytes32 menuHash;
        uint128 bond;
        uint128 collateral; // posted by the parties, in all
        bytes32 modelHash;
    }

    struct Party {
        bool joined;
        bool contributed;
        uint8 item;
        uint128 amount;
        bytes32 dataHash;
        uint128 qualityShare; // of the trained model's value, 18 decimals
    }

    /// @notice Rounds created so far (ids start at 1).
    uint256 public roundCount;
    mapping(uint256 round => Round) private _rounds;
    mapping(uint256 round => Item[]) private _items;
    mapping(uint256 round => address[]) private _parties;
    mapping(uint256 round => mapping(address party => Party)) private _party;

    /// @notice A coordinator created a round and posted its bond.
    /// @param round the round's id.
    /// @param coordinator the coordinator.
    /// @param menuHash keccak256(abi.encode(items)).
    /// @param items the menu.
    /// @param bond the coordinator's bond.
    event RoundCreated(
        uint256 indexed round,
        address indexed coordinator,
        bytes32 menuHash,
        Item[] items,
        uint256 bond
    );

    /// @notice A party joined a round.
    /// @param round the round.
    /// @param party the party.
    /// @param item the menu item it picked.
    /// @param collateral the collateral it posted.
    event Joined(uint256 indexed round, address indexed party, uint256 item, uint256 collateral);

    /// @notice A party recorded its contribution.
    /// @param round the round.
    /// @param party the party.
    /// @param dataHash the hash of the data delivered.
    /// @param amount the amount contributed.
    event Contributed(uint256 indexed round, address indexed party, bytes32 dataHash, uint256 amount);

    /// @notice The coordinator delivered the trained model.
    /// @param round the round.
    /// @param modelHash the model's commitment.
    /// @param contributors the parties that contributed.
    /// @param forfeitedCollateral the collateral of the others, shared by the contributors.
    event Delivered(uint256 indexed round, bytes32 modelHash, uint256 contributors, uint256 forfeitedCollateral);

    /// @notice A contributor's reward was recorded.
    /// @param round the round.
    /// @param party the contributor.
    /// @param modelHash the model's commitment.
    /// @param qualityShare its share of the trained model's value (18 decimals).
    event Rewarded(uint256 indexed round, address indexed party, bytes32 modelHash, uint256 qualityShare);

    /// @notice The coordinator missed its delivery deadline: its bond went to the parties.
    /// @param round the round.
    /// @param bond the bond forfeited.
    /// @param recipients the parties that shared it (0: it went back to the coordinator).
    event CoordinatorDefaulted(uint256 indexed round, uint256 bond, uint256 recipients);

    error InvalidMenu(string reason);
    /// @notice A window of the round is outside the protocol's floor and ceiling.
    /// @param window the window.
    /// @param seconds_ its length.
    /// @param min the floor.
    /// @param max the ceiling.
    error WindowOutOfBounds(Window window, uint256 seconds_, uint256 min, uint256 max);
    /// @notice The deployment's window bounds are not 1 <= min <= max.
    /// @param min the floor.
    /// @param max the ceiling.
    error InvalidWindowBounds(uint256 min, uint256 max);
    error UnknownRound(uint256 round);
    error WrongState(uint256 round, State state);
    error UnknownItem(uint256 round, uint256 item, uint256 items);
    error AlreadyJoined(uint256 round, address party);
    error NotJoined(uint256 round, address party);
    error AlreadyContributed(uint256 round, address party);
    error ContributionTooSmall(uint256 round, uint256 need, uint256 got);
    error RoundFull(uint256 round, uint256 max);
    error TooLate(uint256 round, uint256 deadline, uint256 now_);
    error TooEarly(uint256 round, uint256 deadline, uint256 now_);
    error NotCoordinator(uint256 round, address caller);
    error WrongShareCount(uint256 round, uint256 given, uint256 parties);
    error ShareTooLarge(uint256 round, address party, uint256 share);

    /// @notice Sets the token and the protocol's bounds on every window of a round.
    /// @param token_ the token bonds and collateral are in.
    /// @param minWindow_ the shortest window (seconds), at least 1.
    /// @param maxWindow_ the longest window (seconds), at least minWindow_.
    constructor(IERC20 token_, uint64 minWindow_, uint64 maxWindow_) TokenCredits(token_) {
        if (minWindow_ == 0 || minWindow_ > maxWindow_) revert InvalidWindowBounds(minWindow_, maxWindow_);
        minWindow = minWindow_;
        maxWindow = maxWindow_;
    }

    /// @notice Creates a round with its menu and posts the coordinator's `bond`.
    /// Items must be ordered by contribution (ascending). Each window (now to joinDeadline,
    /// joinDeadline to contributionDeadline, contributionDeadline to deliveryDeadline) must be within
    /// [minWindow, maxWindow] seconds.
    /// @param items the menu, 1 to 16 items.
    /// @param bond tokens pulled from the caller.
    /// @param joinDeadline the last second to join.
    /// @param contributionDeadline the last second to contribute.
    /// @param deliveryDeadline the last second for the coordinator to deliver.
    /// @return id the round's id.
    function createRound(
        Item[] calldata items,
        uint256 bond,
        uint64 joinDeadline,
        uint64 contributionDeadline,
        uint64 deliveryDeadline
    ) external nonReentrant returns (uint256 id) {
        if (items.length == 0 || items.length > MAX_ITEMS) revert InvalidMenu("between 1 and 16 items");
        for (uint256 i = 1; i < items.length; ++i) {
            if (items[i].contribution < items[i - 1].contribution) {
                revert InvalidMenu("contributions must not decrease");
            }
        }
        _checkWindow(Window.Join, block.timestamp, joinDeadline);
        _checkWindow(Window.Contribution, joinDeadline, contributionDeadline);
        _checkWindow(Window.Delivery, contributionDeadline, deliveryDeadline);
        id = ++roundCount;
        Round storage r = _rounds[id];
        r.coordinator = msg.sender;
        r.state = State.Open;
        r.joinDeadline = joinDeadline;
        r.contributionDeadline = contributionDeadline;
        r.deliveryDeadline = deliveryDeadline;
        r.menuHash = keccak256(abi.encode(items));
        r.bond = bond.toUint128();
        for (uint256 i; i < items.length; ++i) _items[id].push(items[i]);
        _pull(msg.sender, bond);
        emit RoundCreated(id, msg.sender, r.menuHash, items, bond);
    }

    /// @notice Joins round `id` with menu item `item`, posting its collateral.
    /// @param id the round.
    /// @param item the index of the menu item.
    function join(uint256 id, uint256 item) external nonReentrant {
        Round storage r = _open(id);
        if (block.timestamp > r.joinDeadline) revert TooLate(id, r.joinDeadline, block.timestamp);
        Item[] storage items = _items[id];
        if (item >= items.length) revert UnknownItem(id, item, items.length);
        Party storage p = _party[id][msg.sender];
        if (p.joined) revert AlreadyJoined(id, msg.sender);
        if (_parties[id].length >= MAX_PARTIES) revert RoundFull(id, MAX_PARTIES);
        p.joined = true;
        p.item = uint8(item);
        _parties[id].push(msg.sender);
        uint256 collateral = items[item].collateral;
        r.collateral += uint128(collateral);
        _pull(msg.sender, collateral);
        emit Joined(id, msg.sender, item, collateral);
    }

    /// @notice Records the caller's contribution: the hash of the data delivered and its amount
    /// (at least its item's contribution), before the contribution deadline.
    /// @param id the round.
    /// @param dataHash the hash of the data delivered.
    /// @param amount the amount contributed.
    function contribute(uint256 id, bytes32 dataHash, uint256 amount) external {
        Round storage r = _open(id);
        if (block.timestamp > r.contributionDeadline) revert TooLate(id, r.contributionDeadline, block.timestamp);
        Party storage p = _party[id][msg.sender];
        if (!p.joined) revert NotJoined(id, msg.sender);
        if (p.contributed) revert AlreadyContributed(id, msg.sender);
        uint256 need = _items[id][p.item].contribution;
        if (amount < need) revert ContributionTooSmall(id, need, amount);
        p.contributed = true;
        p.amount = amount.toUint128();
        p.dataHash = dataHash;
        emit Contributed(id, msg.sender, dataHash, amount);
    }

    /// @notice The coordinator delivers, after the contribution deadline and by the delivery
    /// deadline: the trained model's commitment and each party's quality share (in join order; 0
    /// for a party that did not contribute). Contributors get their collateral back and share the
    /// forfeited collateral of the others; the coordinator gets its bond back.
    /// @param id the round.
    /// @param modelHash the trained model's commitment.
    /// @param qualityShares each party's share of the model's value (18 decimals, at most 1e18), in join order.
    function deliver(uint256 id, bytes32 modelHash, uint128[] calldata qualityShares) external {
        Round storage r = _open(id);
        if (msg.sender != r.coordinator) revert NotCoordinator(id, msg.sender);
        if (block.timestamp <= r.contributionDeadline) revert TooEarly(id, r.contributionDeadline, block.timestamp);
        if (block.timestamp > r.deliveryDeadline) revert TooLate(id, r.deliveryDeadline, block.timestamp);
        address[] storage parties = _parties[id];
        if (qualityShares.length != parties.length) revert WrongShareCount(id, qualityShares.length, parties.length);
        r.state = State.Delivered;
        r.modelHash = modelHash;
        (uint256 contributors, uint256 forfeited) = _tally(id);
        for (uint256 i; i < parties.length; ++i) {
            Party storage p = _party[id][parties[i]];
            if (!p.contributed) continue;
            if (qualityShares[i] > 1e18) revert ShareTooLarge(id, parties[i], qualityShares[i]);
            p.qualityShare = qualityShares[i];
            emit Rewarded(id, parties[i], modelHash, qualityShares[i]);
        }
        _settle(id, contributors, forfeited, 0);
        _credit(r.coordinator, r.bond);
        emit Delivered(id, modelHash, contributors, forfeited);
    }

    /// @notice After the delivery deadline without a delivery, anyone settles the round: the
    /// coordinator's bond goes to the contributors (to every party if none contributed), the
    /// contributors get their collateral back and share the others'.
    /// @param id the round.
    function claimDefault(uint256 id) external {
        Round storage r = _open(id);
        if (block.timestamp <= r.deliveryDeadline) revert TooEarly(id, r.deliveryDeadline, block.timestamp);
        r.state = State.Failed;
        (uint256 contributors, uint256 forfeited) = _tally(id);
        uint256 recipients = contributors > 0 ? contributors : _parties[id].length;
        if (recipients == 0) _credit(r.coordinator, r.bond);
        _settle(id, contributors, forfeited, recipients > 0 ? r.bond : 0);
        emit CoordinatorDefaulted(id, r.bond, recipients);
    }

    // ------------------------------------------------------------------ views

    /// @notice A round's state.
    /// @param id the round; reverts with UnknownRound if there is none.
    function roundOf(uint256 id) external view returns (Round memory) {
        return _round(id);
    }

    /// @notice A round's menu.
    /// @param id the round.
    function itemsOf(uint256 id) external view returns (Item[] memory) {
        return _items[id];
    }

    /// @notice A round's parties, in join order.
    /// @param id the round.
    function partiesOf(uint256 id) external view returns (address[] memory) {
        return _parties[id];
    }

    /// @notice What a party picked, contributed and was rewarded in a round.
    /// @param id the round.
    /// @param account the party.
    function partyOf(uint256 id, address account) external view returns (Party memory) {
        return _party[id][account];
    }

    // ------------------------------------------------------------------ internals

    /// @dev Reverts unless the window from `start` to `end` lasts within the protocol's bounds.
    function _checkWindow(Window window, uint256 start, uint256 end) private view {
        uint256 length = end > start ? end - start : 0;
        if (length < minWindow || length > maxWindow) revert WindowOutOfBounds(window, length, minWindow, maxWindow);
    }

    function _round(uint256 id) private view returns (Round storage r) {
        r = _rounds[id];
        if (r.state == State.None) revert UnknownRound(id);
    }

    function _open(uint256 id) private view returns (Round storage r) {
        r = _round(id);
        if (r.state != State.Open) revert WrongState(id, r.state);
    }

    /// @dev Contributors, and the collateral the others forfeit.
    function _tally(uint256 id) private view returns (uint256 contributors, uint256 forfeited) {
        address[] storage parties = _parties[id];
        Item[] storage items = _items[id];
        for (uint256 i; i < parties.length; ++i) {
            Party storage p = _party[id][parties[i]];
            if (p.contributed) ++contributors;
            else forfeited += items[p.item].collateral;
        }
    }

    /// @dev Returns contributors' collateral and shares `forfeited + bond` among the recipients
    /// (the contributors, or every party when none contributed); the remainder of the division
    /// goes to the first recipient so nothing is left behind.
    function _settle(uint256 id, uint256 contributors, uint256 forfeited, uint256 bond) private {
        address[] storage parties = _parties[id];
        Item[] storage items = _items[id];
        uint256 recipients = contributors > 0 ? contributors : parties.length;
        uint256 pot = forfeited + bond;
        if (recipients == 0) return;
        uint256 each = pot / recipients;
        uint256 remainder = pot - each * recipients;
        for (uint256 i; i < parties.length; ++i) {
            Party storage p = _party[id][parties[i]];
            bool recipient = contributors > 0 ? p.contributed : true;
            // A contributor's own collateral comes back; everyone else's is in the pot.
            uint256 amount = p.contributed ? items[p.item].collateral : 0;
            if (recipient) {
                amount += each + remainder;
                remainder = 0;
            }
            _credit(parties[i], amount);
        }
    }
}
