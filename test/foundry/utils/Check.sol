// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Assertions for the invariant suites: a failed check reverts with what was compared, which
/// forge reports with the shrunk call sequence that led to it.
library Check {
    error NotEqual(string what, uint256 actual, uint256 expected);
    error NotAtLeast(string what, uint256 actual, uint256 floor);
    error NotTrue(string what);

    function eq(uint256 actual, uint256 expected, string memory what) internal pure {
        if (actual != expected) revert NotEqual(what, actual, expected);
    }

    function ge(uint256 actual, uint256 floor, string memory what) internal pure {
        if (actual < floor) revert NotAtLeast(what, actual, floor);
    }

    function isTrue(bool condition, string memory what) internal pure {
        if (!condition) revert NotTrue(what);
    }
}

/// @notice Base of every handler: each action calls the contract under test inside try/catch and
/// says what it expects, success or one custom error (by selector). What happened is counted per
/// action and per error; anything else (an unexpected success, another error, a Panic, a bare
/// revert) is recorded as a surprise, and every suite's invariants require that there is none.
abstract contract Handler {
    /// @notice Calls that went through / reverted as expected, by action name.
    mapping(string => uint256) public ok;
    mapping(string => uint256) public reverted;
    /// @notice Calls whose outcome was not the expected one; the first one is kept for the report.
    uint256 public surprises;
    string public firstSurprise;
    bytes public firstSurpriseData;

    /// @dev Records the outcome of `action` against `expected` (bytes4(0): success).
    function _outcome(string memory action, bytes4 expected, bool succeeded, bytes memory data) internal {
        bytes4 got = succeeded ? bytes4(0) : data.length >= 4 ? bytes4(data) : bytes4(0xffffffff);
        if (got == expected) {
            if (succeeded) ++ok[action];
            else ++reverted[action];
            return;
        }
        if (surprises++ == 0) {
            firstSurprise = action;
            firstSurpriseData = succeeded ? bytes("went through") : data;
        }
    }
}
