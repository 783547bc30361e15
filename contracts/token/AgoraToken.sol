// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title AgoraToken
/// @notice The one token of Agora (SPEC §0): stake, deposits, fees and escrows are paid in it, and
/// ranking emission mints it. 18 decimals. Exactly one account ever mints: the minter the deployer
/// binds once (the deployment binds the RankingMarket, whose emission per epoch is capped), after
/// which nobody holds any power over the token. Holders may burn their own tokens (the ranking
/// market burns its registration cost this way).
contract AgoraToken is ERC20, ERC20Burnable, ERC20Permit {
    /// @notice The only account that may mint; zero until the deployer binds it.
    address public minter;
    /// @notice The account that deployed the token: it alone may bind the minter, once.
    address public immutable deployer;

    /// @notice The minter was bound; it can never change.
    /// @param minter the account that alone may mint from now on.
    event MinterBound(address indexed minter);

    /// @notice Only the deployer binds the minter.
    /// @param caller the account that tried.
    error NotDeployer(address caller);
    /// @notice The minter is bound once and for all.
    /// @param minter the minter already bound.
    error MinterAlreadyBound(address minter);
    /// @notice The minter cannot be the zero address.
    error ZeroMinter();
    /// @notice Only the bound minter mints.
    /// @param caller the account that tried.
    error NotMinter(address caller);

    /// @notice Deploys the token and mints the initial supply.
    /// @param initialHolder receives `initialSupply`.
    /// @param initialSupply the supply that exists before any emission (token wei; may be 0).
    constructor(address initialHolder, uint256 initialSupply) ERC20("Agora", "AGORA") ERC20Permit("Agora") {
        deployer = msg.sender;
        if (initialSupply > 0) _mint(initialHolder, initialSupply);
    }

    /// @notice Binds the only minter, once: the deployment binds the RankingMarket.
    /// @param minter_ the account that alone may mint from now on.
    function bindMinter(address minter_) external {
        if (msg.sender != deployer) revert NotDeployer(msg.sender);
        if (minter != address(0)) revert MinterAlreadyBound(minter);
        if (minter_ == address(0)) revert ZeroMinter();
        minter = minter_;
        emit MinterBound(minter_);
    }

    /// @notice Mints `amount` to `to`; only the bound minter may.
    /// @param to the recipient.
    /// @param amount token wei to mint.
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }
}
