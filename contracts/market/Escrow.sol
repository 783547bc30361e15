// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IJobMarket} from "./IJobMarket.sol";

/// @title Escrow
/// @notice The token side of the job market: pulls escrows in and keeps pull-payment credits
/// (SPEC §0: pull over push). One contract holds every token of the market, so one invariant
/// covers it: the balance equals open escrows + unclaimed shares + credits + mediator bonds.
abstract contract Escrow is IJobMarket, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The token every escrow, deposit, fee and bond is paid in.
    IERC20 public immutable token;

    /// @notice Tokens each account can withdraw (fees, refunds, returned bonds).
    mapping(address account => uint256) public credits;

    constructor(IERC20 token_) {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
    }

    /// @notice Sends the caller every token credited to it.
    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credits[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    function _pull(address from, uint256 amount) internal {
        if (amount > 0) token.safeTransferFrom(from, address(this), amount);
    }

    function _pay(address to, uint256 amount) internal {
        if (amount > 0) token.safeTransfer(to, amount);
    }

    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        credits[account] += amount;
        emit Credited(account, amount);
    }
}
