// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title TokenCredits
/// @notice The token side every market shares: pulls deposits in at their exact amount and keeps
/// pull-payment credits that accounts withdraw. A token that delivers less than was sent (a
/// fee-on-transfer or rebasing token) is refused at the first deposit with UnsupportedToken, so
/// the markets' invariant (the balance equals what is owed) cannot be broken by the token.
abstract contract TokenCredits is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The token every amount is in.
    IERC20 public immutable token;

    /// @notice Tokens each account may withdraw.
    mapping(address account => uint256) public credits;

    /// @notice Tokens were credited to an account, to be taken with `withdraw`.
    /// @param account the account credited.
    /// @param amount the tokens credited.
    event Credited(address indexed account, uint256 amount);

    /// @notice An account withdrew its credits.
    /// @param account the account paid.
    /// @param amount the tokens sent.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice The token is the zero address.
    error ZeroAddress();
    /// @notice The caller has no credits.
    /// @param account the caller.
    error NothingToWithdraw(address account);
    /// @notice The token delivered `received` where `sent` was transferred: fee-on-transfer and
    /// rebasing tokens are not supported.
    /// @param token the token.
    /// @param sent the amount transferred.
    /// @param received the amount that arrived.
    error UnsupportedToken(address token, uint256 sent, uint256 received);

    /// @notice Sets the token once.
    /// @param token_ the token every amount is in (a plain ERC-20).
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

    /// @dev Takes exactly `amount` from `from` (which approved this contract).
    function _pull(address from, uint256 amount) internal {
        if (amount == 0) return;
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert UnsupportedToken(address(token), amount, received);
    }

    /// @dev Sends `amount` to `to` now.
    function _pay(address to, uint256 amount) internal {
        if (amount > 0) token.safeTransfer(to, amount);
    }

    /// @dev Credits `amount` to `account`, to be withdrawn.
    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        credits[account] += amount;
        emit Credited(account, amount);
    }
}
