// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {TokenCredits} from "../token/TokenCredits.sol";
import {SD59x18, sd, ln, pow} from "@prb/math/src/SD59x18.sol";

/// @title DelegationMarket
/// @notice The delegation market of "Pay for the Second-Best Service" (SPEC §3.2). Providers
/// register models with token prices; a user opens a session over K providers with a budget in
/// escrow and settles each block of delegated queries (count, reported tokens, the reward it
/// measured), paying at the reported model's price with tokens capped at count * L. The chain
/// keeps each provider's statistics, computes the plan at the end of exploration from them (ln
/// and powers with PRBMath), enforces the phases and the early stop, and owes the bonus and
/// incentive queries the plan promised: each is settled at no less than L tokens of the provider's
/// first model, and if the user closes without them, each provider is paid that for them. Unused
/// budget returns to the user. A session keeps the models and prices its providers had when it
/// opened (providers may register new ones at any time for later sessions), and lasts at most
/// `maxDuration`: after its deadline anyone closes it.
/// @dev Rewards and prices are token wei, read as 18-decimal fixed point (a reward of 4.5e18 is a
/// utility of 4.5 tokens; a price of 5e14 is 0.0005 tokens per output token). The user's reward
/// measurement is trusted (docs/delegation.md). Invariant: token.balanceOf(this) == sum over open
/// sessions of (budget - spent + what providers earned and have not collected) + credits.
contract DelegationMarket is TokenCredits {
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice Most providers (K) in one session.
    uint256 public constant MAX_PROVIDERS = 8;
    /// @notice Most models one provider registers.
    uint256 public constant MAX_MODELS = 8;
    int256 private constant UNIT = 1e18;

    /// @notice The shortest session duration (seconds), fixed at deployment.
    uint64 public immutable minDuration;
    /// @notice The longest session duration (seconds), fixed at deployment: no session holds a
    /// budget, or a provider's terms, past it.
    uint64 public immutable maxDuration;

    struct Model {
        uint64 score; // quality in [0, 1e18]
        uint64 outputTokens; // typical tokens per answer (for delta1)
        uint128 tokenPrice; // token wei per output token
    }

    enum Phase {
        None,
        Exploration,
        Exploitation,
        Bonus,
        Incentive,
        Closed
    }

    /// @dev Packed so a settlement touches four slots.
    struct Session {
        address user;
        Phase phase;
        bool stoppedEarly;
        uint8 best;
        uint8 k;
        uint64 deadline;
        uint64 t;
        uint64 b;
        // L of the paper (the most tokens billed per query); the name is part of sessionOf's ABI.
        // solhint-disable-next-line use-forbidden-name
        uint64 l;
        uint64 r;
        uint128 rewardScale;
        uint128 eps;
        uint128 budget;
        uint128 spent;
        uint128 reserved; // value of the owed queries not yet delivered, at L tokens each
        uint64 exploited;
        int128 threshold; // per query, 18 decimals
        int128 exploitUtility;
    }

    struct ProviderStats {
        uint48 explored;
        uint48 bonusDue;
        uint48 incentiveDue;
        uint8 extraAllowed; // 1 when delta_i * B has a fraction: one optional query beyond what is owed
        uint96 tokenSum; // reported tokens in exploration (capped at L per query)
        uint128 rewardSum; // measured reward in exploration
        uint128 earned; // paid to the provider in this session and not yet collected
    }

    /// @notice The plan committed at the end of exploration, as the chain computed it.
    struct Plan {
        uint256 best;
        int256 secondBestUtility;
        int256 delta1;
        int256 delta2;
        int256 delta3;
        uint256 r;
        int256 threshold;
        int256 m;
    }

    /// @dev A session's provider and the version of its models the session opened with.
    struct SessionProvider {
        address provider;
        uint32 modelVersion;
    }

    /// @notice Sessions opened so far (ids start at 1).
    uint256 public sessionCount;
    /// @notice The latest version of each provider's models (0: never registered); each
    /// `registerModels` adds one, and every version stays as it was for the sessions opened with it.
    mapping(address provider => uint32) public modelVersionOf;
    mapping(address provider => mapping(uint256 version => Model[])) private _models;
    mapping(uint256 session => Session) private _sessions;
    mapping(uint256 session => SessionProvider[]) private _providers;
    mapping(uint256 session => mapping(uint256 index => ProviderStats)) private _stats;
    mapping(uint256 session => Plan) private _plans;

    /// @notice A provider registered a new version of its models, for the sessions opened from now on.
    /// @param provider the provider.
    /// @param version the version (1 for its first).
    /// @param models its models; index 0 is its flagship.
    event ModelsRegistered(address indexed provider, uint256 version, Model[] models);

    /// @notice A user opened a session and escrowed its budget.
    /// @param session the session's id.
    /// @param user the user.
    /// @param providers the K providers, by index.
    /// @param t T, the queries of the session.
    /// @param b B = floor(T^(2 eps)), the exploration queries per provider.
    /// @param budget the tokens escrowed.
    event SessionOpened(
        uint256 indexed session,
        address indexed user,
        address[] providers,
        uint256 t,
        uint256 b,
        uint256 budget
    );

    /// @notice The user settled queries delegated to a provider.
    /// @param session the session.
    /// @param provider the provider's index in the session.
    /// @param phase the phase the queries belong to.
    /// @param count the queries settled.
    /// @param tokens the tokens billed: the reported tokens, capped at count * L.
    /// @param rewardSum the reward the user measured, in all (token wei).
    /// @param payment what the provider earned: tokens * the reported model's price, and for owed
    /// queries at least L * the flagship's price each.
    event Settled(
        uint256 indexed session,
        uint256 indexed provider,
        Phase phase,
        uint256 count,
        uint256 tokens,
        uint256 rewardSum,
        uint256 payment
    );

    /// @notice The plan was committed at the end of exploration.
    /// @param session the session.
    /// @param plan the plan as the chain computed it.
    /// @param bonus the bonus queries owed to each provider, by index.
    /// @param incentive the incentive queries owed to each provider, by index.
    event PlanCommitted(uint256 indexed session, Plan plan, uint256[] bonus, uint256[] incentive);

    /// @notice Exploitation stopped early: its average utility fell below the threshold.
    /// @param session the session.
    /// @param exploited the exploitation queries settled.
    /// @param averageUtility their average utility per query (18 decimals).
    event StoppedEarly(uint256 indexed session, uint256 exploited, int256 averageUtility);

    /// @notice A session closed.
    /// @param session the session.
    /// @param owedPaid what the providers were paid for owed queries not delivered.
    /// @param refund the budget credited back to the user.
    event SessionClosed(uint256 indexed session, uint256 owedPaid, uint256 refund);

    error InvalidModels(string reason);
    error InvalidSession(string reason);
    /// @notice A session's duration is outside the protocol's bounds.
    /// @param duration the duration asked for (seconds).
    /// @param min the shortest allowed.
    /// @param max the longest allowed.
    error DurationOutOfBounds(uint256 duration, uint256 min, uint256 max);
    /// @notice The deployment's duration bounds are not 1 <= min <= max.
    /// @param min the shortest duration.
    /// @param max the longest duration.
    error InvalidDurationBounds(uint256 min, uint256 max);
    error UnknownProvider(address provider);
    error UnknownSession(uint256 session);
    error NotUser(uint256 session, address caller);
    error NotProvider(uint256 session, uint256 index, address caller);
    error WrongPhase(uint256 session, Phase phase);
    error ProviderIndexOutOfRange(uint256 index, uint256 k);
    error ModelOutOfRange(uint256 model, uint256 models);
    error CountExceedsPhase(uint256 session, uint256 provider, uint256 count, uint256 allowed);
    error ZeroCount();
    error NotBestProvider(uint256 session, uint256 provider, uint256 best);
    error ExplorationIncomplete(uint256 session, uint256 provider, uint256 explored, uint256 b);
    error BudgetTooLow(uint256 session, uint256 need, uint256 available);
    error SessionOpen(uint256 session, uint256 deadline);

    /// @notice Sets the token and the protocol's bounds on a session's duration.
    /// @param token_ the token budgets and payments are in.
    /// @param minDuration_ the shortest session (seconds), at least 1.
    /// @param maxDuration_ the longest session (seconds), at least minDuration_.
    constructor(IERC20 token_, uint64 minDuration_, uint64 maxDuration_) TokenCredits(token_) {
        if (minDuration_ == 0 || minDuration_ > maxDuration_) revert InvalidDurationBounds(minDuration_, maxDuration_);
        minDuration = minDuration_;
        maxDuration = maxDuration_;
    }

    // ------------------------------------------------------------------ providers

    /// @notice Registers a new version of the caller's models, for sessions opened from now on
    /// (open sessions keep theirs); index 0 is its flagship.
    /// @param models 1 to 8 models: score in (0, 1e18], output tokens and token price positive.
    function registerModels(Model[] calldata models) external {
        if (models.length == 0 || models.length > MAX_MODELS) revert InvalidModels("between 1 and 8 models");
        uint32 version = modelVersionOf[msg.sender] + 1;
        Model[] storage stored = _models[msg.sender][version];
        for (uint256 i; i < models.length; ++i) {
            Model calldata m = models[i];
            if (m.score == 0 || m.score > 1e18) revert InvalidModels("score must be in (0, 1]");
            if (m.outputTokens == 0) revert InvalidModels("output tokens must be positive");
            if (m.tokenPrice == 0) revert InvalidModels("token price must be positive");
            stored.push(m);
        }
        modelVersionOf[msg.sender] = version;
        emit ModelsRegistered(msg.sender, version, models);
    }

    /// @notice A provider's latest models (what a session opened now gets); index 0 is its flagship.
    /// @param provider the provider.
    function modelsOf(address provider) external view returns (Model[] memory) {
        return _models[provider][modelVersionOf[provider]];
    }

    /// @notice The models of version `version` of a provider's registrations.
    /// @param provider the provider.
    /// @param version the version (1 for its first).
    function modelsAt(address provider, uint256 version) external view returns (Model[] memory) {
        return _models[provider][version];
    }

    /// @notice The models session `id` uses for its provider `index` (those registered when it opened).
    /// @param id the session.
    /// @param index the provider's index in the session.
    function sessionModels(uint256 id, uint256 index) external view returns (Model[] memory) {
        (, Model[] storage models) = _provider(id, index);
        return models;
    }

    // ------------------------------------------------------------------ sessions

    /// @notice Opens a session of `t` queries over `providers` (2 to 8, registered) with their latest
    /// models, and escrows `budget`. B = floor(t^(2 eps)); the session can be closed by anyone after
    /// `duration` seconds, which must be within [minDuration, maxDuration].
    /// @param providers the K providers, distinct and registered.
    /// @param t T, the queries of the session.
    /// @param eps epsilon (18 decimals), in (0, 1/2).
    /// @param l L, the most tokens billed per query.
    /// @param rewardScale the value of a query answered with score 1 (token wei, 18 decimals).
    /// @param budget tokens pulled from the caller into escrow.
    /// @param duration seconds after which anyone may close the session, within the protocol's bounds.
    /// @return id the session's id.
    function openSession(
        address[] calldata providers,
        uint64 t,
        uint128 eps,
        // L of the paper, as in docs/delegation.md and the Session field.
        // solhint-disable-next-line use-forbidden-name
        uint64 l,
        uint128 rewardScale,
        uint256 budget,
        uint64 duration
    ) external nonReentrant returns (uint256 id) {
        uint256 k = providers.length;
        if (k < 2 || k > MAX_PROVIDERS) revert InvalidSession("between 2 and 8 providers");
        if (eps == 0 || eps >= 5e17) revert InvalidSession("eps must be in (0, 1/2)");
        if (l == 0 || rewardScale == 0) revert InvalidSession("L and rewardScale must be positive");
        if (duration < minDuration || duration > maxDuration) {
            revert DurationOutOfBounds(duration, minDuration, maxDuration);
        }
        if (budget > type(uint128).max) revert InvalidSession("budget exceeds 2^128");
        id = ++sessionCount;
        _storeProviders(id, providers);
        uint256 b = uint256(pow(sd(int256(uint256(t)) * UNIT), sd(int256(uint256(eps)) * 2)).unwrap()) / 1e18;
        if (b == 0 || b * k > t) revert InvalidSession("T too small to explore every provider");
        Session storage s = _sessions[id];
        s.user = msg.sender;
        s.phase = Phase.Exploration;
        s.k = uint8(k);
        s.deadline = uint64(block.timestamp) + duration;
        s.t = t;
        s.b = uint64(b);
        s.l = l;
        s.rewardScale = rewardScale;
        s.eps = eps;
        s.budget = budget.toUint128();
        _pull(msg.sender, budget);
        emit SessionOpened(id, msg.sender, providers, t, b, budget);
    }

    /// @notice Adds `amount` to a session's budget.
    /// @param id the session.
    /// @param amount tokens pulled from the caller.
    function topUp(uint256 id, uint256 amount) external nonReentrant {
        Session storage s = _session(id);
        if (s.phase == Phase.Closed) revert WrongPhase(id, s.phase);
        if (uint256(s.budget) + amount > type(uint128).max) revert InvalidSession("budget exceeds 2^128");
        s.budget += amount.toUint128();
        _pull(msg.sender, amount);
    }

    // settle is one dispatch over the phases (SPEC §3.1) on the same session and provider state: it
    // stays in one piece, longer than function-max-lines allows.
    // solhint-disable function-max-lines
    /// @notice The user settles `count` queries delegated to provider `index`: the provider
    /// reported `tokens` tokens in all, billed at its model `model`, and the user measured
    /// `rewardSum` (token wei) of reward. Pays min(tokens, count * L) * price to the provider, and
    /// never less for the queries the plan owes (bonus and incentive) than what it reserved for
    /// them: L tokens of the flagship's price each.
    /// @param id the session.
    /// @param index the provider's index in the session.
    /// @param count the queries settled.
    /// @param tokens the tokens the provider reported for them, in all.
    /// @param rewardSum the reward the user measured for them, in all (token wei).
    /// @param model the index of the model the provider reported.
    function settle(
        uint256 id,
        uint256 index,
        uint256 count,
        uint256 tokens,
        uint256 rewardSum,
        uint256 model
    ) external {
        Session storage s = _session(id);
        if (msg.sender != s.user) revert NotUser(id, msg.sender);
        if (count == 0) revert ZeroCount();
        if (index >= s.k) revert ProviderIndexOutOfRange(index, s.k);
        // No phase allows more than T queries; this also keeps count * L below any overflow.
        if (count > s.t) revert CountExceedsPhase(id, index, count, s.t);
        (, Model[] storage models) = _provider(id, index);
        if (model >= models.length) revert ModelOutOfRange(model, models.length);
        uint256 billed = tokens < count * s.l ? tokens : count * s.l;
        uint256 payment = billed * models[model].tokenPrice;
        ProviderStats storage p = _stats[id][index];
        Phase phase = s.phase;
        if (phase == Phase.Exploration) {
            _allow(id, index, count, s.b - p.explored);
            p.explored += count.toUint48();
            p.tokenSum += billed.toUint96();
            p.rewardSum += rewardSum.toUint128();
        } else if (phase == Phase.Exploitation) {
            if (index != s.best) revert NotBestProvider(id, index, s.best);
            uint256 inBlock = s.b - (s.exploited % s.b);
            uint256 left = s.r - s.exploited;
            _allow(id, index, count, inBlock < left ? inBlock : left);
            s.exploited += count.toUint64();
            s.exploitUtility += (rewardSum.toInt256() - payment.toInt256()).toInt128();
            _checkEarlyStop(id, s);
        } else if (phase == Phase.Bonus) {
            _allow(id, index, count, p.bonusDue);
            p.bonusDue -= uint48(count);
            payment = _owedPayment(s, count * s.l * models[0].tokenPrice, payment);
            _afterBonus(id, s);
        } else if (phase == Phase.Incentive) {
            uint256 owed = count < p.incentiveDue ? count : p.incentiveDue;
            _allow(id, index, count, p.incentiveDue + p.extraAllowed);
            if (count > owed) p.extraAllowed = 0;
            p.incentiveDue -= uint48(owed);
            payment = _owedPayment(s, owed * s.l * models[0].tokenPrice, payment);
        } else {
            revert WrongPhase(id, phase);
        }
        uint256 spent = s.spent + payment;
        if (spent + s.reserved > s.budget) revert BudgetTooLow(id, spent + s.reserved, s.budget);
        s.spent = spent.toUint128();
        // Kept in the provider's stats slot (no credit slot per settlement); collected with
        // collectEarnings or when the session closes.
        p.earned += payment.toUint128();
        emit Settled(id, index, phase, count, billed, rewardSum, payment);
    }

    // solhint-enable function-max-lines

    /// @notice Moves what provider `index` has earned in session `id` so far to its credits (it may
    /// then withdraw). By the provider, once the plan is committed: in exploration what it earned
    /// is its exploration payment, which the plan reads to choose the best provider and its
    /// threshold (collecting it early would make a provider look free). Closing pays it as well.
    /// @param id the session.
    /// @param index the caller's index in the session.
    function collectEarnings(uint256 id, uint256 index) external {
        Session storage s = _session(id);
        if (index >= s.k) revert ProviderIndexOutOfRange(index, s.k);
        address provider = _providers[id][index].provider;
        if (msg.sender != provider) revert NotProvider(id, index, msg.sender);
        if (s.phase == Phase.Exploration || s.phase == Phase.Closed) revert WrongPhase(id, s.phase);
        ProviderStats storage p = _stats[id][index];
        uint256 amount = p.earned;
        p.earned = 0;
        _credit(provider, amount);
    }

    /// @notice Commits the plan once every provider has been explored B times (SPEC §3.1), from the
    /// recorded statistics: the best provider (highest average utility, ties to the lower index),
    /// u2, delta1..3, R, the threshold, and the bonus and incentive queries it owes. Anyone may call.
    /// @param id the session.
    function commitPlan(uint256 id) external {
        Session storage s = _session(id);
        if (s.phase != Phase.Exploration) revert WrongPhase(id, s.phase);
        uint256 k = s.k;
        for (uint256 i; i < k; ++i) {
            uint256 explored = _stats[id][i].explored;
            if (explored < s.b) revert ExplorationIncomplete(id, i, explored, s.b);
        }
        Plan memory plan = _computePlan(id, s);
        _plans[id] = plan;
        s.best = uint8(plan.best);
        // A plan whose numbers do not fit the session's slots (an absurd rewardScale or model) is
        // refused rather than stored wrapped; the session can still be closed.
        s.r = plan.r.toUint64();
        s.threshold = plan.threshold.toInt128();
        uint256[] memory bonus = new uint256[](k);
        uint256[] memory incentive = new uint256[](k);
        uint256 reserved;
        for (uint256 i; i < k; ++i) {
            ProviderStats storage p = _stats[id][i];
            bonus[i] = s.b;
            int256 di = plan.delta1 + _providerTerm(p, s);
            if (di > 0) {
                uint256 exact = uint256(di) * s.b;
                incentive[i] = exact / 1e18;
                p.extraAllowed = exact % 1e18 == 0 ? 0 : 1;
            }
            p.bonusDue = bonus[i].toUint48();
            p.incentiveDue = incentive[i].toUint48();
            reserved += (bonus[i] + incentive[i]) * s.l * _flagshipPrice(id, i);
        }
        if (s.spent + reserved > s.budget) revert BudgetTooLow(id, s.spent + reserved, s.budget);
        s.reserved = uint128(reserved);
        s.phase = plan.r > 0 ? Phase.Exploitation : Phase.Bonus;
        emit PlanCommitted(id, plan, bonus, incentive);
    }

    /// @notice Ends a session: by its user at any time, or by anyone after its deadline. Every query
    /// the plan still owes is paid to its provider at L tokens of the provider's first model; what is
    /// left of the budget goes back to the user.
    /// @param id the session.
    function closeSession(uint256 id) external {
        Session storage s = _session(id);
        if (s.phase == Phase.Closed) revert WrongPhase(id, s.phase);
        if (msg.sender != s.user && block.timestamp <= s.deadline) revert SessionOpen(id, s.deadline);
        uint256 owedPaid;
        bool planned = s.phase != Phase.Exploration;
        for (uint256 i; i < s.k; ++i) {
            ProviderStats storage p = _stats[id][i];
            uint256 value;
            if (planned) {
                uint256 owed = (s.stoppedEarly ? 0 : uint256(p.bonusDue)) + p.incentiveDue;
                value = owed * s.l * _flagshipPrice(id, i);
                p.bonusDue = 0;
                p.incentiveDue = 0;
                owedPaid += value;
            }
            _credit(_providers[id][i].provider, value + p.earned);
            p.earned = 0;
        }
        s.spent += uint128(owedPaid);
        s.reserved = 0;
        s.phase = Phase.Closed;
        uint256 refund = s.budget - s.spent;
        _credit(s.user, refund);
        emit SessionClosed(id, owedPaid, refund);
    }

    // ------------------------------------------------------------------ views

    /// @notice A session's state.
    /// @param id the session; reverts with UnknownSession if there is none.
    function sessionOf(uint256 id) external view returns (Session memory) {
        return _session(id);
    }

    /// @notice A session's providers, by index.
    /// @param id the session.
    /// @return providers the providers' addresses, by index.
    function providersOf(uint256 id) external view returns (address[] memory providers) {
        SessionProvider[] storage stored = _providers[id];
        providers = new address[](stored.length);
        for (uint256 i; i < stored.length; ++i) providers[i] = stored[i].provider;
    }

    /// @notice A provider's statistics and dues in a session.
    /// @param id the session.
    /// @param index the provider's index in the session.
    function stats(uint256 id, uint256 index) external view returns (ProviderStats memory) {
        return _stats[id][index];
    }

    /// @notice A session's plan (zero before commitPlan).
    /// @param id the session.
    function planOf(uint256 id) external view returns (Plan memory) {
        return _plans[id];
    }

    // ------------------------------------------------------------------ internals

    function _session(uint256 id) private view returns (Session storage s) {
        s = _sessions[id];
        if (s.phase == Phase.None) revert UnknownSession(id);
    }

    function _allow(uint256 id, uint256 index, uint256 count, uint256 allowed) private pure {
        if (count > allowed) revert CountExceedsPhase(id, index, count, allowed);
    }

    /// @dev Checks the providers (registered, distinct) and keeps each with its latest model version.
    function _storeProviders(uint256 id, address[] calldata providers) private {
        SessionProvider[] storage stored = _providers[id];
        for (uint256 i; i < providers.length; ++i) {
            address provider = providers[i];
            uint32 version = modelVersionOf[provider];
            if (version == 0) revert UnknownProvider(provider);
            for (uint256 j; j < i; ++j) {
                if (providers[j] == provider) revert InvalidSession("a provider appears twice");
            }
            stored.push(SessionProvider({provider: provider, modelVersion: version}));
        }
    }

    /// @dev Provider `index` of session `id` and the models the session opened with.
    function _provider(uint256 id, uint256 index) private view returns (address provider, Model[] storage models) {
        SessionProvider storage sp = _providers[id][index];
        provider = sp.provider;
        models = _models[provider][sp.modelVersion];
    }

    /// @dev The flagship's token price of provider `index` in session `id`: an owed query's value is L of it.
    function _flagshipPrice(uint256 id, uint256 index) private view returns (uint256) {
        (, Model[] storage models) = _provider(id, index);
        return models[0].tokenPrice;
    }

    /// @dev Releases the reservation of owed queries worth `owedValue` and returns what they pay:
    /// the billed `payment`, but never less than what was reserved for them.
    function _owedPayment(Session storage s, uint256 owedValue, uint256 payment) private returns (uint256) {
        s.reserved -= uint128(owedValue);
        return payment > owedValue ? payment : owedValue;
    }

    /// @dev At each block end of exploitation: stop when the running average utility is below the threshold.
    function _checkEarlyStop(uint256 id, Session storage s) private {
        uint256 done = s.exploited;
        if (done % s.b != 0 && done != s.r) return;
        // exploitUtility is the sum over `done` queries, threshold a per-query value: both 18 decimals.
        if (int256(s.exploitUtility) < int256(s.threshold) * int256(done)) {
            s.stoppedEarly = true;
            // The bonus is owed only if exploitation ran to its end: release its reservation.
            for (uint256 i; i < s.k; ++i) {
                ProviderStats storage p = _stats[id][i];
                s.reserved -= uint128(uint256(p.bonusDue) * s.l * _flagshipPrice(id, i));
                p.bonusDue = 0;
            }
            s.phase = Phase.Incentive;
            emit StoppedEarly(id, done, int256(s.exploitUtility) / int256(done));
        } else if (done == s.r) {
            s.phase = Phase.Bonus;
        }
    }

    function _afterBonus(uint256 id, Session storage s) private {
        for (uint256 i; i < s.k; ++i) if (_stats[id][i].bonusDue != 0) return;
        s.phase = Phase.Incentive;
    }

    /// @dev ln vbar - ln taubar - taubar / L of a provider's exploration (18 decimals).
    function _providerTerm(ProviderStats storage p, Session storage s) private view returns (int256) {
        int256 b = int256(uint256(s.b));
        int256 avgTokens = (int256(uint256(p.tokenSum)) * UNIT) / b;
        return _lnFloored(int256(uint256(p.rewardSum)) / b) - _lnFloored(avgTokens) - avgTokens / int256(uint256(s.l));
    }

    function _computePlan(uint256 id, Session storage s) private view returns (Plan memory plan) {
        int256 b = int256(uint256(s.b));
        int256 secondSum;
        (plan.best, secondSum) = _bestAndSecond(id, s.k);
        plan.secondBestUtility = secondSum / b;
        plan.delta1 = _delta1(id, s);
        plan.delta2 = ln(sd(int256(uint256(s.rewardScale)))).unwrap();
        for (uint256 i; i < s.k; ++i) if (i != plan.best) plan.delta3 += _providerTerm(_stats[id][i], s);
        int256 reservedQueries = ((plan.delta1 + 3 * UNIT) * int256(uint256(s.k)) + plan.delta2 + plan.delta3) * b;
        int256 r = int256(uint256(s.t)) * UNIT - reservedQueries;
        plan.r = r > 0 ? uint256(r) / 1e18 : 0;
        plan.m = _m(s);
        // threshold = u2 - (rewardScale + the best's average payment in exploration) * M / 2.
        int256 bestPayment = int256(uint256(_stats[id][plan.best].earned)) / b;
        plan.threshold = plan.secondBestUtility - ((int256(uint256(s.rewardScale)) + bestPayment) * plan.m) / UNIT / 2;
    }

    /// @dev The providers with the highest and second highest exploration utility (ties to the lower index).
    function _bestAndSecond(uint256 id, uint256 k) private view returns (uint256 best, int256 second) {
        int256 top = type(int256).min;
        second = type(int256).min;
        for (uint256 i; i < k; ++i) {
            ProviderStats storage p = _stats[id][i];
            // Before the plan, what a provider earned is what it was paid in exploration.
            int256 u = int256(uint256(p.rewardSum)) - int256(uint256(p.earned));
            if (u > top) {
                second = top;
                top = u;
                best = i;
            } else if (u > second) {
                second = u;
            }
        }
    }

    /// @dev delta1 = -ln(rewardScale * min s/l) + max l / L + 1, over every model of every provider.
    function _delta1(uint256 id, Session storage s) private view returns (int256) {
        int256 minRatio = type(int256).max; // rewardScale * score / tokens, 18 decimals
        uint256 maxTokens;
        for (uint256 i; i < s.k; ++i) {
            (, Model[] storage models) = _provider(id, i);
            for (uint256 j; j < models.length; ++j) {
                Model storage m = models[j];
                int256 ratio =
                    (int256(uint256(m.score)) * int256(uint256(s.rewardScale))) /
                        UNIT /
                        int256(uint256(m.outputTokens));
                if (ratio < minRatio) minRatio = ratio;
                if (m.outputTokens > maxTokens) maxTokens = m.outputTokens;
            }
        }
        return -_lnFloored(minRatio) + (int256(maxTokens) * UNIT) / int256(uint256(s.l)) + UNIT;
    }

    /// @dev ln x of an 18-decimal x floored at 1e-18, so an average that rounds to zero (a provider
    /// that earned no reward or reported no tokens in exploration) gives a large finite term
    /// (ln 1e-18 = -41.4) instead of making commitPlan revert for ever.
    function _lnFloored(int256 x) private pure returns (int256) {
        return ln(sd(x > 0 ? x : int256(1))).unwrap();
    }

    /// @dev M = T^-eps ln(K T), 18 decimals.
    function _m(Session storage s) private view returns (int256) {
        SD59x18 t = sd(int256(uint256(s.t)) * UNIT);
        int256 lnKT = ln(sd(int256(uint256(s.k)) * t.unwrap())).unwrap();
        return (lnKT * UNIT) / pow(t, sd(int256(uint256(s.eps)))).unwrap();
    }
}
