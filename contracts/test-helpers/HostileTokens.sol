// SPDX-License-Identifier: MIT
// Test-only contracts: hostile on purpose (low-level calls, reentry, assembly to bubble reverts), not
// deployed outside tests, so the production NatSpec and gas rules do not apply.
// solhint-disable use-natspec, avoid-low-level-calls, no-inline-assembly, gas-increment-by-one, one-contract-per-file
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";

/// @notice What a ReentrantToken calls on an account that asked to be told of its transfers.
interface ITransferHook {
    function onTokenTransfer(address from, address to, uint256 amount) external;
}

/// @notice Test token with ERC-777-style hooks: after every transfer it calls `onTokenTransfer` on
/// the sender and the receiver if they registered, so a hostile account can reenter the contract
/// that is moving its tokens. Used to show that every market rejects reentry. Burnable, as the
/// ranking market burns its registration cost. Not for production.
contract ReentrantToken is ERC20, ERC20Burnable {
    mapping(address account => bool) public hooked;

    constructor() ERC20("Reentrant test token", "REENT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice The caller asks to be called back on every transfer from or to it.
    function registerHook() external {
        hooked[msg.sender] = true;
    }

    function _update(address from, address to, uint256 amount) internal override {
        super._update(from, to, amount);
        if (from != address(0) && hooked[from]) ITransferHook(from).onTokenTransfer(from, to, amount);
        if (to != address(0) && to != from && hooked[to]) ITransferHook(to).onTokenTransfer(from, to, amount);
    }
}

/// @notice Test token that burns a fee of `feeBps` / 10000 of every transfer from the amount the
/// receiver gets, as some real tokens do. The markets must refuse deposits in it. Not for production.
contract FeeOnTransferToken is ERC20 {
    uint256 public immutable feeBps;

    constructor(uint256 feeBps_) ERC20("Fee-on-transfer test token", "FEE") {
        feeBps = feeBps_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 amount) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, amount);
        uint256 fee = (amount * feeBps) / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, amount - fee);
    }
}

/// @notice A hostile market participant: acts through `act`, and when armed, reenters the victim
/// with `attack` calldata whenever a ReentrantToken moves its tokens. It swallows the reentry's
/// failure so the outer call can go on, and records what happened for the test to check.
contract HostileReceiver is ITransferHook {
    address public victim;
    bytes public attack;
    bool public armed;
    uint256 public reentryAttempts;
    uint256 public reentrySuccesses;
    bytes public lastRevert;

    /// @notice Calls `to` with `data` as this contract, bubbling up a revert unchanged.
    function act(address to, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    function arm(address victim_, bytes calldata attack_) external {
        victim = victim_;
        attack = attack_;
        armed = true;
    }

    function disarm() external {
        armed = false;
    }

    function onTokenTransfer(address, address, uint256) external {
        if (!armed) return;
        armed = false; // one reentry per transfer, so the attack cannot recurse
        reentryAttempts += 1;
        (bool ok, bytes memory ret) = victim.call(attack);
        if (ok) reentrySuccesses += 1;
        else lastRevert = ret;
        armed = true;
    }
}
