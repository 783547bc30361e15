// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The few Foundry cheatcodes the invariant suites use, declared here (forge-std is not
/// installable offline). forge serves them at the address keccak256("hevm cheat code")[12:].
interface Vm {
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function assume(bool condition) external;
    function label(address account, string calldata name) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 selector) external;
}

Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
