// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title WeightRow
/// @notice Pure math for weight rows (SPEC §1.1): uint16 weights packed 16 per 256-bit word
/// (uid `16w + m` lives in bits [16m, 16m + 16) of word `w`), normalization of a submitted row to
/// ROW_TOTAL, and the learning-rate update of whitepaper eq. 17.
/// @dev Normalization rule, mirrored bit for bit by the SDK's `normalizeRow`:
///  1. A row that already sums to ROW_TOTAL is kept as it is.
///  2. Otherwise, every non-zero weight whose proportional share would round below one unit is
///     fixed at exactly 1; this is repeated with the units and the weight left over until no
///     further weight qualifies (each pass tests every remaining weight against the same totals).
///  3. The remaining units are shared among the other weights by largest remainder (Hamilton):
///     each gets floor(v * units / rest), and the units left go one each to the largest
///     remainders, ties to the lower uid.
/// The result sums to ROW_TOTAL and keeps every non-zero weight non-zero.
/// `normalizePacked` is public: it is deployed once and linked, which keeps the general
/// normalization out of the ranking market's bytecode (only rows that do not already sum to
/// ROW_TOTAL pay its delegatecall).
library WeightRow {
    uint256 internal constant ROW_TOTAL = 65_535;
    uint256 internal constant LANES = 16;
    uint256 internal constant LANE_MASK = 0xFFFF;
    uint256 internal constant WAD = 1e18;

    /// @notice Number of 256-bit words that hold a row of `n` weights.
    /// @param n the number of weights.
    function wordsFor(uint256 n) internal pure returns (uint256) {
        return (n + LANES - 1) / LANES;
    }

    /// @notice Sum of the 16 uint16 lanes of `word` (SWAR: pairs, then quads, then halves).
    /// @param word 16 packed uint16 weights.
    /// @return s their sum.
    function laneSum(uint256 word) internal pure returns (uint256 s) {
        // Lanes are 16 bits and at most 16 are added: nothing can overflow.
        unchecked {
            uint256 pairs =
                (word & 0x0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF) +
                    ((word >> 16) & 0x0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF);
            uint256 quads =
                (pairs & 0x00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF) +
                    ((pairs >> 32) & 0x00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF);
            uint256 halves =
                (quads & 0x0000000000000000FFFFFFFFFFFFFFFF0000000000000000FFFFFFFFFFFFFFFF) +
                    ((quads >> 64) & 0x0000000000000000FFFFFFFFFFFFFFFF0000000000000000FFFFFFFFFFFFFFFF);
            s = (halves & type(uint128).max) + (halves >> 128);
        }
    }

    // normalize is one algorithm (rules 1-3 above, mirrored bit for bit by the SDK's normalizeRow):
    // it stays in one piece, longer than function-max-lines allows.
    // solhint-disable function-max-lines
    /// @notice Normalizes a sparse row (values of distinct uids) to sum ROW_TOTAL; see the rule above.
    /// @dev `values` must hold at least one non-zero entry, each at most 0xFFFF (callers check).
    /// `order[i]` breaks remainder ties: the entry with the smaller order wins (callers pass uids).
    /// @param values the weights.
    /// @param order the tie-break key of each weight.
    /// @param sum the sum of `values`.
    /// @return target the normalized weights, in the order of `values`.
    function normalize(
        uint256[] memory values,
        uint256[] memory order,
        uint256 sum
    ) internal pure returns (uint256[] memory target) {
        uint256 k = values.length;
        target = new uint256[](k);
        if (sum == ROW_TOTAL) {
            for (uint256 i; i < k; ++i) target[i] = values[i];
            return target;
        }
        // Bounds that make every operation below safe unchecked: values <= 65535, k <= 4096, so
        // v * units < 2^32, sums < 2^28, and indices stay within [0, k).
        unchecked {
            // Rule 2: fix at 1 every weight too small to earn a unit, until none is left.
            uint256 units = ROW_TOTAL;
            uint256 rest = sum;
            while (true) {
                uint256 fixedCount;
                uint256 fixedWeight;
                for (uint256 i; i < k; ++i) {
                    uint256 v = values[i];
                    if (v != 0 && target[i] == 0 && v * units < rest) {
                        target[i] = 1;
                        ++fixedCount;
                        fixedWeight += v;
                    }
                }
                if (fixedCount == 0) break;
                units -= fixedCount;
                rest -= fixedWeight;
            }
            // Rule 3: Hamilton apportionment of `units` among the weights not fixed at 1.
            uint256[] memory keys = new uint256[](k);
            uint256 keyCount;
            uint256 given;
            for (uint256 i; i < k; ++i) {
                uint256 v = values[i];
                if (v == 0 || target[i] != 0) continue;
                uint256 share = v * units;
                uint256 floorShare = share / rest;
                target[i] = floorShare;
                given += floorShare;
                uint256 remainder = share % rest;
                // Larger remainder first, then smaller order; the index rides in the low bits.
                // The post-increment as an index is the idiom here, and this block is unchecked.
                // solhint-disable-next-line gas-increment-by-one
                if (remainder != 0) keys[keyCount++] = (remainder << 40) | ((LANE_MASK - order[i]) << 16) | i;
            }
            uint256 left = units - given;
            if (left == 0) return target;
            uint256 cut = _kthLargest(keys, keyCount, left);
            for (uint256 j; j < keyCount; ++j) {
                if (keys[j] >= cut) ++target[keys[j] & LANE_MASK];
            }
        }
    }

    // solhint-enable function-max-lines

    /// @notice Normalizes a dense packed row (word w holds uids 16w..16w+15) to sum ROW_TOTAL by
    /// the rule above, ties to the lower uid.
    /// @param target the packed row; at least one lane is non-zero.
    /// @param sum the sum of its lanes.
    /// @return row the normalized packed row, of the same length.
    function normalizePacked(uint256[] memory target, uint256 sum) public pure returns (uint256[] memory row) {
        uint256 words = target.length;
        uint256 k;
        for (uint256 w; w < words; ++w) {
            for (uint256 word = target[w]; word != 0; word >>= 16) {
                if (word & LANE_MASK != 0) ++k;
            }
        }
        uint256[] memory vals = new uint256[](k);
        uint256[] memory uids = new uint256[](k);
        uint256 i;
        for (uint256 w; w < words; ++w) {
            for ((uint256 word, uint256 m) = (target[w], 0); word != 0; ++m) {
                uint256 v = word & LANE_MASK;
                if (v != 0) {
                    vals[i] = v;
                    uids[i] = (w << 4) | m;
                    ++i;
                }
                word >>= 16;
            }
        }
        uint256[] memory normalized = normalize(vals, uids, sum);
        row = new uint256[](words);
        for (uint256 j; j < k; ++j) {
            uint256 u = uids[j];
            row[u >> 4] |= normalized[j] << ((u & 15) << 4);
        }
    }

    /// @notice One learning-rate step per lane (whitepaper eq. 17):
    /// new = (old * (1e18 - lambda) + target * lambda) / 1e18, floored.
    /// @param oldWord the stored word (16 weights).
    /// @param targetWord the normalized target word.
    /// @param lambda the learning rate (WAD), in (0, 1e18].
    /// @return word the new word.
    function ema(uint256 oldWord, uint256 targetWord, uint256 lambda) internal pure returns (uint256 word) {
        if (oldWord == 0 && targetWord == 0) return 0;
        // lambda <= 1e18 and lanes <= 65535: o * keep + t * lambda < 2^64.
        unchecked {
            uint256 keep = WAD - lambda;
            for (uint256 m; m < LANES; ++m) {
                uint256 shift = m * 16;
                uint256 o = (oldWord >> shift) & LANE_MASK;
                uint256 t = (targetWord >> shift) & LANE_MASK;
                if (o == 0 && t == 0) continue;
                word |= ((o * keep + t * lambda) / WAD) << shift;
            }
        }
    }

    /// @dev The kth largest of keys[0..count) (k >= 1, keys distinct), by in-place quickselect.
    function _kthLargest(uint256[] memory keys, uint256 count, uint256 kth) private pure returns (uint256) {
        uint256 lo;
        uint256 hi = count - 1;
        uint256 want = kth - 1; // position in descending order
        while (lo < hi) {
            uint256 pivot = keys[(lo + hi) / 2];
            uint256 i = lo;
            uint256 j = hi;
            while (i <= j) {
                while (keys[i] > pivot) ++i;
                while (keys[j] < pivot) --j;
                if (i <= j) {
                    (keys[i], keys[j]) = (keys[j], keys[i]);
                    ++i;
                    if (j == 0) break;
                    --j;
                }
            }
            if (want <= j) hi = j;
            else if (want >= i) lo = i;
            else return keys[want];
        }
        return keys[lo];
    }
}
