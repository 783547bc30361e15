// SPDX-License-Identifier: MIT
// Test-only: exposes the internal library so tests can compare it with the SDK on any input.
// solhint-disable use-natspec, gas-calldata-parameters
pragma solidity ^0.8.28;

import {WeightRow} from "../libraries/WeightRow.sol";

contract WeightRowHarness {
    function normalize(
        uint256[] memory values,
        uint256[] memory order,
        uint256 sum
    ) external pure returns (uint256[] memory) {
        return WeightRow.normalize(values, order, sum);
    }

    function ema(uint256 oldWord, uint256 targetWord, uint256 lambda) external pure returns (uint256) {
        return WeightRow.ema(oldWord, targetWord, lambda);
    }
}
