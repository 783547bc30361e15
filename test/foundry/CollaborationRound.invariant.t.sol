// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AgoraToken} from "../../contracts/token/AgoraToken.sol";
import {TokenCredits} from "../../contracts/token/TokenCredits.sol";
import {CollaborationRound} from "../../contracts/collaboration/CollaborationRound.sol";
import {vm} from "./utils/Vm.sol";
import {Check, Handler} from "./utils/Check.sol";

/// @notice Coordinators open rounds with random menus and windows (within and outside the bounds),
/// parties join, contribute (or not), coordinators deliver (or default), anyone claims a default,
/// and everyone withdraws; time moves in 12-second blocks, sometimes to a deadline exactly.
/// The handler keeps its own model of every round and of what each account is owed.
contract RoundHandler is Handler {
    uint64 internal constant MIN_WINDOW = 60;
    uint64 internal constant MAX_WINDOW = 30 days;

    AgoraToken public immutable token;
    CollaborationRound public immutable market;
    address[6] public actors;

    struct ModelRound {
        address coordinator;
        uint8 state; // 1 open, 2 delivered, 3 failed
        uint64 joinDeadline;
        uint64 contributionDeadline;
        uint64 deliveryDeadline;
        uint128 bond;
        uint128[] contribution;
        uint128[] collateral;
        address[] parties;
    }

    ModelRound[] internal rounds; // index id - 1
    mapping(uint256 => mapping(address => uint256)) internal itemOf; // item + 1 once joined
    mapping(uint256 => mapping(address => bool)) internal contributed;
    mapping(address => uint256) public owed; // the model's credits
    uint256 public pulled;
    uint256 public withdrawn;
    /// @notice Contributors that were credited less than their collateral back when their round settled.
    uint256 public contributorsShortPaid;
    /// @notice Rounds settled; of those, defaults.
    uint256 public settled;
    uint256 public defaults;

    constructor(AgoraToken token_, CollaborationRound market_, address[6] memory actors_) {
        token = token_;
        market = market_;
        actors = actors_;
    }

    function roundCount() external view returns (uint256) {
        return rounds.length;
    }

    function openEscrow() external view returns (uint256 total) {
        for (uint256 i; i < rounds.length; ++i) {
            ModelRound storage r = rounds[i];
            if (r.state != 1) continue;
            total += r.bond;
            for (uint256 j; j < r.parties.length; ++j) total += r.collateral[itemOf[i + 1][r.parties[j]] - 1];
        }
    }

    function ceilingOf(uint256 id) external view returns (uint64 created, uint64 deliveryDeadline, uint8 state) {
        ModelRound storage r = rounds[id - 1];
        return (r.joinDeadline, r.deliveryDeadline, r.state);
    }

    function _actor(uint256 seed) private view returns (address) {
        return actors[seed % actors.length];
    }

    /// @dev A round id: mostly an existing one, sometimes 0 or one past the last.
    function _round(uint256 seed) private view returns (uint256) {
        if (rounds.length == 0 || seed % 10 == 0) return seed % 2 == 0 ? 0 : rounds.length + 1;
        return 1 + ((seed >> 8) % rounds.length);
    }

    /// @dev A window: mostly within the bounds, sometimes exactly at one, sometimes outside.
    function _window(uint256 seed) private pure returns (uint64) {
        uint256 kind = seed % 10;
        if (kind == 0) return MIN_WINDOW;
        if (kind == 1) return MAX_WINDOW;
        if (kind == 2) return MIN_WINDOW - 1;
        if (kind == 3) return MAX_WINDOW + 1;
        return uint64(MIN_WINDOW + (seed >> 8) % 3600);
    }

    function _menu(uint256 menuSeed) private pure returns (CollaborationRound.Item[] memory items, bool decreasing) {
        uint256 n = menuSeed % 5; // 0 items is refused
        items = new CollaborationRound.Item[](n);
        for (uint256 i; i < n; ++i) {
            uint128 contribution = uint128(i * 10 + (menuSeed >> (8 + i * 8)) % 10);
            items[i] = CollaborationRound.Item(contribution, uint128(1e18), uint128((menuSeed >> (48 + i * 16)) % 50e18));
            if (i > 0 && contribution < items[i - 1].contribution) decreasing = true;
        }
    }

    function _inBounds(uint64 w) private pure returns (bool) {
        return w >= MIN_WINDOW && w <= MAX_WINDOW;
    }

    /// @dev The three deadlines from one seed, and whether every window is within the bounds.
    function _deadlines(uint256 seed) private view returns (uint64[3] memory d, bool inBounds) {
        (uint64 a, uint64 b, uint64 c) = (_window(seed), _window(seed >> 80), _window(seed >> 160));
        d[0] = uint64(block.timestamp) + a;
        d[1] = d[0] + b;
        d[2] = d[1] + c;
        inBounds = _inBounds(a) && _inBounds(b) && _inBounds(c);
    }

    function createRound(uint256 who, uint256 menuSeed, uint256 bondSeed, uint256 windowSeed) external {
        (CollaborationRound.Item[] memory items, bool decreasing) = _menu(menuSeed);
        (uint64[3] memory d, bool inBounds) = _deadlines(windowSeed);
        bytes4 expected;
        if (items.length == 0 || decreasing) expected = CollaborationRound.InvalidMenu.selector;
        else if (!inBounds) expected = CollaborationRound.WindowOutOfBounds.selector;
        vm.prank(_actor(who));
        (bool ok_, bytes memory data) =
            address(market).call(abi.encodeCall(market.createRound, (items, bondSeed % 100e18, d[0], d[1], d[2])));
        if (ok_) {
            ModelRound storage r = rounds.push();
            r.coordinator = _actor(who);
            r.state = 1;
            (r.joinDeadline, r.contributionDeadline, r.deliveryDeadline) = (d[0], d[1], d[2]);
            r.bond = uint128(bondSeed % 100e18);
            for (uint256 i; i < items.length; ++i) {
                r.contribution.push(items[i].contribution);
                r.collateral.push(items[i].collateral);
            }
            pulled += r.bond;
        }
        _outcome("createRound", expected, ok_, data);
    }

    function _joinExpected(uint256 id, address party, uint256 item) private view returns (bytes4) {
        if (id == 0 || id > rounds.length) return CollaborationRound.UnknownRound.selector;
        ModelRound storage r = rounds[id - 1];
        if (r.state != 1) return CollaborationRound.WrongState.selector;
        if (block.timestamp > r.joinDeadline) return CollaborationRound.TooLate.selector;
        if (item >= r.contribution.length) return CollaborationRound.UnknownItem.selector;
        if (itemOf[id][party] != 0) return CollaborationRound.AlreadyJoined.selector;
        return bytes4(0);
    }

    function join(uint256 who, uint256 roundSeed, uint256 itemSeed) external {
        address party = _actor(who);
        uint256 id = _round(roundSeed);
        // One past the menu now and then.
        uint256 item = id == 0 || id > rounds.length ? itemSeed % 3 : itemSeed % (rounds[id - 1].contribution.length + 1);
        bytes4 expected = _joinExpected(id, party, item);
        vm.prank(party);
        (bool ok_, bytes memory data) = address(market).call(abi.encodeCall(market.join, (id, item)));
        if (ok_) {
            itemOf[id][party] = item + 1;
            rounds[id - 1].parties.push(party);
            pulled += rounds[id - 1].collateral[item];
        }
        _outcome("join", expected, ok_, data);
    }

    function _contributeExpected(uint256 id, address party, uint256 amount) private view returns (bytes4) {
        if (id == 0 || id > rounds.length) return CollaborationRound.UnknownRound.selector;
        ModelRound storage r = rounds[id - 1];
        if (r.state != 1) return CollaborationRound.WrongState.selector;
        if (block.timestamp > r.contributionDeadline) return CollaborationRound.TooLate.selector;
        if (itemOf[id][party] == 0) return CollaborationRound.NotJoined.selector;
        if (contributed[id][party]) return CollaborationRound.AlreadyContributed.selector;
        if (amount < r.contribution[itemOf[id][party] - 1]) return CollaborationRound.ContributionTooSmall.selector;
        return bytes4(0);
    }

    function contribute(uint256 who, uint256 roundSeed, uint256 amountSeed) external {
        address party = _actor(who);
        uint256 id = _round(roundSeed);
        bytes4 expected = _contributeExpected(id, party, amountSeed % 60);
        bytes memory call_ = abi.encodeCall(market.contribute, (id, bytes32(amountSeed), amountSeed % 60));
        vm.prank(party);
        (bool ok_, bytes memory data) = address(market).call(call_);
        if (ok_) contributed[id][party] = true;
        _outcome("contribute", expected, ok_, data);
    }

    function _tally(uint256 id) private view returns (uint256 contributors, uint256 forfeited) {
        ModelRound storage r = rounds[id - 1];
        for (uint256 i; i < r.parties.length; ++i) {
            if (contributed[id][r.parties[i]]) ++contributors;
            else forfeited += r.collateral[itemOf[id][r.parties[i]] - 1];
        }
    }

    function _settle(uint256 id, uint256 bond) private {
        address[] storage parties = rounds[id - 1].parties;
        (uint256 contributors, uint256 forfeited) = _tally(id);
        uint256 recipients = contributors > 0 ? contributors : parties.length;
        if (recipients == 0) return;
        uint256 each = (forfeited + bond) / recipients;
        uint256 remainder = forfeited + bond - each * recipients;
        for (uint256 i; i < parties.length; ++i) {
            address p = parties[i];
            uint256 amount = contributed[id][p] ? rounds[id - 1].collateral[itemOf[id][p] - 1] : 0;
            if (contributors == 0 || contributed[id][p]) {
                amount += each + remainder;
                remainder = 0;
            }
            owed[p] += amount;
        }
    }

    /// @dev The credit of every contributor must grow by at least its collateral when its round settles.
    function _snapshotCredits(uint256 id) private view returns (uint256[] memory before) {
        ModelRound storage r = rounds[id - 1];
        before = new uint256[](r.parties.length);
        for (uint256 i; i < r.parties.length; ++i) before[i] = market.credits(r.parties[i]);
    }

    function _checkContributors(uint256 id, uint256[] memory before) private {
        ModelRound storage r = rounds[id - 1];
        for (uint256 i; i < r.parties.length; ++i) {
            address p = r.parties[i];
            if (!contributed[id][p]) continue;
            if (market.credits(p) < before[i] + r.collateral[itemOf[id][p] - 1]) ++contributorsShortPaid;
        }
    }

    function _deliverCall(uint256 id, address caller, uint256 shareSeed, bool asCoordinator)
        private
        view
        returns (address, uint128[] memory shares, bytes4 expected)
    {
        if (id == 0 || id > rounds.length) return (caller, shares, CollaborationRound.UnknownRound.selector);
        ModelRound storage r = rounds[id - 1];
        if (asCoordinator) caller = r.coordinator;
        uint256 count = r.parties.length + (shareSeed % 7 == 0 ? 1 : 0);
        shares = new uint128[](count);
        bool tooLarge;
        for (uint256 i; i < count; ++i) {
            shares[i] = uint128((shareSeed >> (i % 200)) % (shareSeed % 11 == 0 ? 2e18 : 1e18 + 1));
            if (i < r.parties.length && shares[i] > 1e18 && contributed[id][r.parties[i]]) tooLarge = true;
        }
        if (r.state != 1) expected = CollaborationRound.WrongState.selector;
        else if (caller != r.coordinator) expected = CollaborationRound.NotCoordinator.selector;
        else if (block.timestamp <= r.contributionDeadline) expected = CollaborationRound.TooEarly.selector;
        else if (block.timestamp > r.deliveryDeadline) expected = CollaborationRound.TooLate.selector;
        else if (count != r.parties.length) expected = CollaborationRound.WrongShareCount.selector;
        else if (tooLarge) expected = CollaborationRound.ShareTooLarge.selector;
        return (caller, shares, expected);
    }

    function deliver(uint256 who, uint256 roundSeed, uint256 shareSeed, bool asCoordinator) external {
        uint256 id = _round(roundSeed);
        (address caller, uint128[] memory shares, bytes4 expected) = _deliverCall(id, _actor(who), shareSeed, asCoordinator);
        uint256[] memory before = id == 0 || id > rounds.length ? new uint256[](0) : _snapshotCredits(id);
        vm.prank(caller);
        (bool ok_, bytes memory data) = address(market).call(abi.encodeCall(market.deliver, (id, keccak256("model"), shares)));
        if (ok_) {
            ModelRound storage r = rounds[id - 1];
            r.state = 2;
            _settle(id, 0);
            owed[r.coordinator] += r.bond;
            ++settled;
            _checkContributors(id, before);
        }
        _outcome("deliver", expected, ok_, data);
    }

    function claimDefault(uint256 who, uint256 roundSeed) external {
        uint256 id = _round(roundSeed);
        bytes4 expected;
        if (id == 0 || id > rounds.length) expected = CollaborationRound.UnknownRound.selector;
        else {
            ModelRound storage r = rounds[id - 1];
            if (r.state != 1) expected = CollaborationRound.WrongState.selector;
            else if (block.timestamp <= r.deliveryDeadline) expected = CollaborationRound.TooEarly.selector;
        }
        uint256[] memory before = id == 0 || id > rounds.length ? new uint256[](0) : _snapshotCredits(id);
        vm.prank(_actor(who));
        (bool ok_, bytes memory data) = address(market).call(abi.encodeCall(market.claimDefault, (id)));
        if (ok_) {
            ModelRound storage r = rounds[id - 1];
            r.state = 3;
            if (r.parties.length == 0) owed[r.coordinator] += r.bond;
            else _settle(id, r.bond);
            ++settled;
            ++defaults;
            _checkContributors(id, before);
        }
        _outcome("claimDefault", expected, ok_, data);
    }

    function withdraw(uint256 who) external {
        address account = _actor(who);
        uint256 amount = owed[account];
        vm.prank(account);
        (bool ok_, bytes memory data) = address(market).call(abi.encodeCall(TokenCredits.withdraw, ()));
        if (ok_) {
            owed[account] = 0;
            withdrawn += amount;
        }
        _outcome("withdraw", amount == 0 ? TokenCredits.NothingToWithdraw.selector : bytes4(0), ok_, data);
    }

    /// @dev Time moves in 12-second blocks; sometimes to a round's deadline exactly, or one block past it.
    function advance(uint256 seed) external {
        uint256 to = block.timestamp + 12 * (1 + seed % 400);
        if (rounds.length > 0 && seed % 3 == 0) {
            ModelRound storage r = rounds[(seed >> 8) % rounds.length];
            uint64[3] memory deadlines = [r.joinDeadline, r.contributionDeadline, r.deliveryDeadline];
            uint256 d = deadlines[(seed >> 16) % 3] + ((seed >> 24) % 2 == 0 ? 0 : 12);
            if (d > block.timestamp) to = d;
        }
        vm.warp(to);
        vm.roll(block.number + 1 + (to - block.timestamp) / 12);
    }
}

/// @notice Invariants of CollaborationRound (SPEC §4): tokens held == bonds and collateral of open
/// rounds + credits; credits are what the payout rule gives; a contributor never gets back less than
/// its collateral; every round's deadlines are within the ceilings it was created with (so every
/// escrow can be released by someone: delivery, or claimDefault after the delivery deadline); every
/// call ended as the model expected.
contract CollaborationRoundInvariants {
    AgoraToken internal token;
    CollaborationRound internal market;
    RoundHandler internal handler;
    address[6] internal actors =
        [address(0x2001), address(0x2002), address(0x2003), address(0x2004), address(0x2005), address(0x2006)];

    function setUp() public {
        vm.warp(1_800_000_000);
        token = new AgoraToken(address(this), 6_000_000e18);
        market = new CollaborationRound(IERC20(address(token)), 60, 30 days);
        handler = new RoundHandler(token, market, actors);
        for (uint256 i; i < actors.length; ++i) {
            token.transfer(actors[i], 1_000_000e18);
            vm.prank(actors[i]);
            token.approve(address(market), type(uint256).max);
        }
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_tokensHeldAreOwed() public view {
        uint256 credits;
        for (uint256 i; i < actors.length; ++i) credits += market.credits(actors[i]);
        uint256 held = token.balanceOf(address(market));
        Check.eq(held, handler.pulled() - handler.withdrawn(), "market balance == pulled - withdrawn");
        Check.eq(held, credits + handler.openEscrow(), "market balance == credits + open bonds and collateral");
    }

    function invariant_creditsFollowThePayoutRule() public view {
        for (uint256 i; i < actors.length; ++i) Check.eq(market.credits(actors[i]), handler.owed(actors[i]), "credits");
    }

    function invariant_contributorsGetTheirCollateralBack() public view {
        Check.eq(handler.contributorsShortPaid(), 0, "contributors credited less than their collateral");
    }

    function invariant_everyEscrowHasABoundedExit() public view {
        for (uint256 id = 1; id <= handler.roundCount(); ++id) {
            (uint64 join, uint64 delivery,) = handler.ceilingOf(id);
            // Created at most 30 days before the join deadline, the round's last deadline is at most
            // 2 x 30 days after it; after it, claimDefault releases everything (checked in the handler).
            Check.isTrue(delivery <= join + 2 * 30 days, "delivery deadline within the ceilings");
        }
    }

    function invariant_everyCallEndedAsExpected() public view {
        Check.eq(handler.surprises(), 0, string.concat("unexpected outcome of ", handler.firstSurprise()));
    }
}
