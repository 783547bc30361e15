// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {AgoraToken} from "../../contracts/token/AgoraToken.sol";
import {vm} from "./utils/Vm.sol";
import {Check, Handler} from "./utils/Check.sol";

/// @notice Actions on the token by four holders, the bound minter and a stranger: transfers,
/// approvals, transferFrom, burns, mints and attempts to take the minter's power. Ghost balances
/// model what each account must hold.
contract TokenHandler is Handler {
    AgoraToken public immutable token;
    address public immutable minter;
    address[5] public actors; // four holders and a stranger who holds nothing at first
    mapping(address => uint256) public modelBalance;
    mapping(address => mapping(address => uint256)) public modelAllowance;
    uint256 public minted;
    uint256 public burnt;

    constructor(AgoraToken token_, address minter_, address[5] memory actors_) {
        token = token_;
        minter = minter_;
        actors = actors_;
        for (uint256 i; i < 5; ++i) modelBalance[actors_[i]] = token_.balanceOf(actors_[i]);
    }

    function _actor(uint256 seed) private view returns (address) {
        return actors[seed % 5];
    }

    /// @dev Amounts: mostly within the balance, sometimes exactly it, sometimes past it, sometimes huge.
    function _amount(uint256 seed, uint256 balance) private pure returns (uint256) {
        uint256 kind = seed % 8;
        if (kind == 0) return balance;
        if (kind == 1) return balance + 1 + (seed >> 8) % 1e18;
        if (kind == 2) return type(uint256).max - (seed >> 8) % 3;
        if (kind == 3) return 0;
        return balance == 0 ? (seed >> 8) % 1e18 : (seed >> 8) % (balance + 1);
    }

    function transfer(uint256 fromSeed, uint256 toSeed, uint256 amountSeed) external {
        address from = _actor(fromSeed);
        address to = _actor(toSeed);
        uint256 amount = _amount(amountSeed, modelBalance[from]);
        bytes4 expected = amount > modelBalance[from] ? IERC20Errors.ERC20InsufficientBalance.selector : bytes4(0);
        vm.prank(from);
        (bool succeeded, bytes memory data) = address(token).call(abi.encodeCall(token.transfer, (to, amount)));
        if (succeeded) {
            modelBalance[from] -= amount;
            modelBalance[to] += amount;
        }
        _outcome("transfer", expected, succeeded, data);
    }

    function transferToZero(uint256 fromSeed, uint256 amountSeed) external {
        address from = _actor(fromSeed);
        vm.prank(from);
        (bool succeeded, bytes memory data) =
            address(token).call(abi.encodeCall(token.transfer, (address(0), amountSeed % (modelBalance[from] + 1))));
        _outcome("transferToZero", IERC20Errors.ERC20InvalidReceiver.selector, succeeded, data);
    }

    function approve(uint256 ownerSeed, uint256 spenderSeed, uint256 amountSeed) external {
        address owner = _actor(ownerSeed);
        address spender = _actor(spenderSeed);
        uint256 amount = _amount(amountSeed, modelBalance[owner]);
        vm.prank(owner);
        (bool succeeded, bytes memory data) = address(token).call(abi.encodeCall(token.approve, (spender, amount)));
        if (succeeded) modelAllowance[owner][spender] = amount;
        _outcome("approve", bytes4(0), succeeded, data);
    }

    /// @dev A spend by `spender` of `from`'s tokens under its allowance: the amount, and the error expected.
    function _spend(address spender, address from, uint256 amountSeed)
        private
        view
        returns (uint256 amount, uint256 allowed, bytes4 expected)
    {
        allowed = modelAllowance[from][spender];
        amount = _amount(amountSeed, allowed < modelBalance[from] ? allowed : modelBalance[from]);
        if (amount > allowed) expected = IERC20Errors.ERC20InsufficientAllowance.selector;
        else if (amount > modelBalance[from]) expected = IERC20Errors.ERC20InsufficientBalance.selector;
    }

    /// @dev A spend that went through: the allowance (unless unlimited) and `from`'s balance go down.
    function _spent(address spender, address from, uint256 allowed, uint256 amount) private {
        if (allowed != type(uint256).max) modelAllowance[from][spender] = allowed - amount;
        modelBalance[from] -= amount;
    }

    function transferFrom(uint256 spenderSeed, uint256 fromSeed, uint256 toSeed, uint256 amountSeed) external {
        address spender = _actor(spenderSeed);
        address from = _actor(fromSeed);
        address to = _actor(toSeed);
        (uint256 amount, uint256 allowed, bytes4 expected) = _spend(spender, from, amountSeed);
        vm.prank(spender);
        (bool succeeded, bytes memory data) = address(token).call(abi.encodeCall(token.transferFrom, (from, to, amount)));
        if (succeeded) {
            _spent(spender, from, allowed, amount);
            modelBalance[to] += amount;
        }
        _outcome("transferFrom", expected, succeeded, data);
    }

    function burn(uint256 fromSeed, uint256 amountSeed) external {
        address from = _actor(fromSeed);
        uint256 amount = _amount(amountSeed, modelBalance[from]);
        bytes4 expected = amount > modelBalance[from] ? IERC20Errors.ERC20InsufficientBalance.selector : bytes4(0);
        vm.prank(from);
        (bool succeeded, bytes memory data) = address(token).call(abi.encodeCall(token.burn, (amount)));
        if (succeeded) {
            modelBalance[from] -= amount;
            burnt += amount;
        }
        _outcome("burn", expected, succeeded, data);
    }

    function burnFrom(uint256 spenderSeed, uint256 fromSeed, uint256 amountSeed) external {
        address spender = _actor(spenderSeed);
        address from = _actor(fromSeed);
        (uint256 amount, uint256 allowed, bytes4 expected) = _spend(spender, from, amountSeed);
        vm.prank(spender);
        (bool succeeded, bytes memory data) = address(token).call(abi.encodeCall(token.burnFrom, (from, amount)));
        if (succeeded) {
            _spent(spender, from, allowed, amount);
            burnt += amount;
        }
        _outcome("burnFrom", expected, succeeded, data);
    }

    /// @dev The bound minter mints (bounded so the supply stays far below 2^256); anyone else is refused.
    function mint(uint256 callerSeed, uint256 toSeed, uint256 amountSeed, bool asMinter) external {
        address caller = asMinter ? minter : _actor(callerSeed);
        address to = _actor(toSeed);
        uint256 amount = amountSeed % 1e30;
        vm.prank(caller);
        (bool succeeded, bytes memory data) = address(token).call(abi.encodeCall(token.mint, (to, amount)));
        if (succeeded) {
            modelBalance[to] += amount;
            minted += amount;
        }
        _outcome(asMinter ? "mint" : "mintByOther", asMinter ? bytes4(0) : AgoraToken.NotMinter.selector, succeeded, data);
    }

    /// @dev Nobody can take the minter's power: a holder is not the deployer; the deployer bound it already.
    function bindMinter(uint256 callerSeed, address newMinter, bool asDeployer) external {
        address caller = asDeployer ? token.deployer() : _actor(callerSeed);
        vm.prank(caller);
        (bool succeeded, bytes memory data) = address(token).call(abi.encodeCall(token.bindMinter, (newMinter)));
        _outcome(
            "bindMinter",
            asDeployer ? AgoraToken.MinterAlreadyBound.selector : AgoraToken.NotDeployer.selector,
            succeeded,
            data
        );
    }
}

/// @notice Invariants of AgoraToken (SPEC §0): the supply is the initial supply plus what the one
/// minter minted minus what holders burnt; every balance and allowance is as modelled; the minter
/// never changes; every call ended as expected.
contract AgoraTokenInvariants {
    AgoraToken internal token;
    TokenHandler internal handler;
    uint256 internal constant INITIAL = 1_000_000e18;
    address internal constant MINTER = address(0xA11CE);
    address[5] internal actors = [address(0x1001), address(0x1002), address(0x1003), address(0x1004), address(0x1005)];

    function setUp() public {
        token = new AgoraToken(address(this), INITIAL);
        token.bindMinter(MINTER);
        for (uint256 i; i < 4; ++i) token.transfer(actors[i], INITIAL / 4);
        handler = new TokenHandler(token, MINTER, actors);
    }

    /// @notice forge's invariant runner calls only the handler.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_supplyIsInitialPlusMintedMinusBurnt() public view {
        Check.eq(token.totalSupply(), INITIAL + handler.minted() - handler.burnt(), "totalSupply");
    }

    function invariant_balancesAndAllowancesAsModelled() public view {
        uint256 sum;
        for (uint256 i; i < 5; ++i) {
            uint256 balance = token.balanceOf(actors[i]);
            Check.eq(balance, handler.modelBalance(actors[i]), "balance");
            sum += balance;
            for (uint256 j; j < 5; ++j) {
                Check.eq(token.allowance(actors[i], actors[j]), handler.modelAllowance(actors[i], actors[j]), "allowance");
            }
        }
        Check.eq(sum, token.totalSupply(), "sum of balances == totalSupply");
    }

    function invariant_minterNeverChanges() public view {
        Check.isTrue(token.minter() == MINTER, "the minter is the one bound at deployment");
    }

    function invariant_everyCallEndedAsExpected() public view {
        Check.eq(handler.surprises(), 0, string.concat("unexpected outcome of ", handler.firstSurprise()));
    }
}
