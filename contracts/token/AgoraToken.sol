// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title AgoraToken
/// @notice The one token of Agora (SPEC §0): stake, deposits, fees and escrows are paid in it, and
/// ranking emission mints it. 18 decimals. Only holders of MINTER_ROLE mint; the deployment grants
/// that role to the RankingMarket alone.
contract AgoraToken is ERC20, ERC20Permit, AccessControl {
    /// @notice The role allowed to mint; the deployment grants it to the RankingMarket alone.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice Deploys the token and mints the initial supply.
    /// @param admin receives DEFAULT_ADMIN_ROLE (grants and revokes MINTER_ROLE).
    /// @param initialHolder receives `initialSupply`.
    /// @param initialSupply the supply that exists before any emission (token wei; may be 0).
    constructor(
        address admin,
        address initialHolder,
        uint256 initialSupply
    ) ERC20("Agora", "AGORA") ERC20Permit("Agora") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (initialSupply > 0) _mint(initialHolder, initialSupply);
    }

    /// @notice Mints `amount` to `to`. Reverts with AccessControlUnauthorizedAccount for a caller
    /// without MINTER_ROLE.
    /// @param to the recipient.
    /// @param amount token wei to mint.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
