/// The ledger's tables and functions in PostgreSQL, by schema version (docs/ledgers.md, "PostgreSQL").
///
/// Every ledger call is one statement that calls one of these functions, so that a
/// reservation is one round trip and atomic over every counter it touches. The functions
/// share one locking order, which is what keeps them free of deadlocks:
///
/// 1. the decision id, with a transaction-scoped advisory lock (reserve, settle, release);
/// 2. the counters, created if missing and locked in key order (`FOR UPDATE`, `purser_lock`; or,
///    in `purser_reserve`'s common case, by the `UPDATE` that reserves on each).
///
/// Expiry is judged by the server's `now()`. A reservation's entries carry its expiry and a
/// `released` flag; an entry is given back exactly once, under its counter's lock: by its
/// reservation's settle or release, by a reserve that a cap would otherwise refuse
/// (`purser_sweep`; an expired entry still counted only makes a check stricter), or by
/// `purser_prune`. Reads subtract the expired entries not given back yet, so they need no
/// lock and never see the difference.
///
/// Sums saturate at the `Int64` range: they are computed in `numeric` and clamped
/// (`purser_sat`), as ``Amount`` does in Swift.
enum PostgresSchema {
    /// The version this build writes.
    static let version: Int32 = 2

    /// Each key serializes migrations across replicas (`pg_advisory_xact_lock`).
    static let migrationLock: Int64 = 0x7075_7273_6572_0001

    /// The table that records the version; created before anything else.
    static let versionTable = """
        CREATE TABLE IF NOT EXISTS purser_schema (
            id integer PRIMARY KEY CHECK (id = 1),
            version integer NOT NULL,
            migrated_at timestamptz NOT NULL DEFAULT now()
        )
        """

    /// The arguments of `purser_reserve`, the same in every version (`CREATE OR REPLACE` keeps
    /// a function only with the same arguments, and replicas already running call it so).
    private static let reserveArguments = """
        r_id text, r_ttl bigint, r_model text,
                    k_budget text[], k_scope text[], k_period text[], k_win bigint[],
                    a_usd bigint[], a_tokens bigint[], a_requests bigint[],
                    cap_usd bigint[], cap_tokens bigint[], cap_requests bigint[], enforced boolean[],
                    OUT outcome text, OUT exceeded integer, OUT before bigint[], OUT after bigint[]
        """

    /// PL/pgSQL shared by the versions of `purser_reserve`: sets `exceeded` to the 0-based index
    /// of the first enforced entry whose cap `before` plus its amount would pass, and leaves the
    /// enclosing loop when there is none.
    private static let capCheck = """
        exceeded := -1;
                FOR i IN 1..n LOOP
                    o := 9 * (i - 1);
                    IF enforced[i] AND (
                        (cap_usd[i] >= 0 AND before[o + 1]::numeric + before[o + 4] + a_usd[i] > cap_usd[i]) OR
                        (cap_tokens[i] >= 0 AND before[o + 2]::numeric + before[o + 5] + a_tokens[i] > cap_tokens[i]) OR
                        (cap_requests[i] >= 0 AND before[o + 3]::numeric + before[o + 6] + a_requests[i] > cap_requests[i])
                    ) THEN
                        exceeded := i - 1;
                        EXIT;
                    END IF;
                END LOOP;
                EXIT WHEN exceeded < 0;
        """

    /// PL/pgSQL shared by the versions of `purser_reserve`: a retried reserve of an id whose
    /// reservation is no longer held is an error; one still held answers as reserved, again.
    private static let refuseUsedID = """
        IF existing.state <> 'held' OR existing.expires_at <= now() THEN
                    RAISE EXCEPTION 'the decision id % was already used, and its reservation is %', r_id,
                        CASE WHEN existing.state = 'held' THEN 'expired' ELSE existing.state END;
                END IF;
                after := before; outcome := 'reserved';
                RETURN;
        """

    /// The statements that bring a database from `version - 1` to `version`, by version.
    static let migrations: [Int32: [String]] = [1: version1, 2: version2]

    static let version1 = [
        """
        CREATE TABLE purser_counters (
            budget text NOT NULL, scope_key text NOT NULL, period text NOT NULL, win bigint NOT NULL,
            spent_usd bigint NOT NULL DEFAULT 0, spent_tokens bigint NOT NULL DEFAULT 0, spent_requests bigint NOT NULL DEFAULT 0,
            reserved_usd bigint NOT NULL DEFAULT 0, reserved_tokens bigint NOT NULL DEFAULT 0, reserved_requests bigint NOT NULL DEFAULT 0,
            peak_usd bigint NOT NULL DEFAULT 0, peak_tokens bigint NOT NULL DEFAULT 0, peak_requests bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (budget, scope_key, period, win)
        )
        """,
        """
        CREATE TABLE purser_reservations (
            id text PRIMARY KEY,
            state text NOT NULL CHECK (state IN ('held', 'settled', 'released')),
            model text,
            expires_at timestamptz NOT NULL,
            finished_at timestamptz
        )
        """,
        "CREATE INDEX purser_reservations_finished ON purser_reservations (finished_at) WHERE state <> 'held'",
        "CREATE INDEX purser_reservations_expiry ON purser_reservations (expires_at) WHERE state = 'held'",
        """
        CREATE TABLE purser_reservation_entries (
            id text NOT NULL, entry integer NOT NULL,
            budget text NOT NULL, scope_key text NOT NULL, period text NOT NULL, win bigint NOT NULL,
            usd bigint NOT NULL, tokens bigint NOT NULL, requests bigint NOT NULL,
            expires_at timestamptz NOT NULL,
            released boolean NOT NULL DEFAULT false,
            PRIMARY KEY (id, entry)
        )
        """,
        """
        CREATE INDEX purser_reservation_entries_held ON purser_reservation_entries (budget, scope_key, period, win, expires_at)
            WHERE NOT released
        """,
        """
        CREATE FUNCTION purser_sat(value numeric) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
            SELECT LEAST(GREATEST(value, -9223372036854775808), 9223372036854775807)::bigint
        $$
        """,
        // A counter's nine numbers, in the order every function returns them.
        """
        CREATE FUNCTION purser_numbers(c purser_counters) RETURNS bigint[] LANGUAGE sql IMMUTABLE AS $$
            SELECT ARRAY[c.spent_usd, c.spent_tokens, c.spent_requests, c.reserved_usd, c.reserved_tokens,
                         c.reserved_requests, c.peak_usd, c.peak_tokens, c.peak_requests]
        $$
        """,
        // Locks the counters in key order, creating the missing ones first. (The common case, every
        // counter there, is one statement.)
        """
        CREATE FUNCTION purser_lock(k_budget text[], k_scope text[], k_period text[], k_win bigint[]) RETURNS void
        LANGUAGE plpgsql AS $$
        DECLARE
            locked integer;
        BEGIN
            PERFORM 1 FROM purser_counters c
                WHERE (c.budget, c.scope_key, c.period, c.win) IN (SELECT * FROM unnest(k_budget, k_scope, k_period, k_win))
                ORDER BY c.budget, c.scope_key, c.period, c.win
                FOR UPDATE;
            GET DIAGNOSTICS locked = ROW_COUNT;
            IF locked < coalesce(cardinality(k_budget), 0) THEN  -- (a key named twice also lands here: harmless)
                INSERT INTO purser_counters (budget, scope_key, period, win)
                    SELECT DISTINCT t.b, t.s, t.p, t.w FROM unnest(k_budget, k_scope, k_period, k_win) AS t(b, s, p, w)
                    ORDER BY 1, 2, 3, 4
                    ON CONFLICT DO NOTHING;
                PERFORM 1 FROM purser_counters c
                    WHERE (c.budget, c.scope_key, c.period, c.win) IN (SELECT * FROM unnest(k_budget, k_scope, k_period, k_win))
                    ORDER BY c.budget, c.scope_key, c.period, c.win
                    FOR UPDATE;
            END IF;
        END
        $$
        """,
        // Gives back the expired entries held on counters this transaction has locked, each once.
        // Lazily: a reserve calls it only when a cap would refuse (an expired entry still counted
        // can only make a check stricter), and `purser_prune` for the rest; reads subtract the
        // expired entries not given back yet, so nobody sees the difference.
        """
        CREATE FUNCTION purser_sweep(k_budget text[], k_scope text[], k_period text[], k_win bigint[]) RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
            WITH gone AS (
                UPDATE purser_reservation_entries e SET released = true
                WHERE NOT e.released AND e.expires_at <= now()
                  AND (e.budget, e.scope_key, e.period, e.win) IN (SELECT * FROM unnest(k_budget, k_scope, k_period, k_win))
                RETURNING e.budget, e.scope_key, e.period, e.win, e.usd, e.tokens, e.requests
            ), sums AS (
                SELECT g.budget, g.scope_key, g.period, g.win, sum(g.usd) AS u, sum(g.tokens) AS t, sum(g.requests) AS r
                FROM gone g GROUP BY 1, 2, 3, 4
            )
            UPDATE purser_counters c SET
                reserved_usd = purser_sat(c.reserved_usd - x.u),
                reserved_tokens = purser_sat(c.reserved_tokens - x.t),
                reserved_requests = purser_sat(c.reserved_requests - x.r)
            FROM sums x
            WHERE c.budget = x.budget AND c.scope_key = x.scope_key AND c.period = x.period AND c.win = x.win;
        END
        $$
        """,
        // Gives back what a reservation still holds (its counters must be locked).
        """
        CREATE FUNCTION purser_give_back(r_id text) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            WITH gone AS (
                UPDATE purser_reservation_entries e SET released = true
                WHERE e.id = r_id AND NOT e.released
                RETURNING e.budget, e.scope_key, e.period, e.win, e.usd, e.tokens, e.requests
            ), sums AS (
                SELECT g.budget, g.scope_key, g.period, g.win, sum(g.usd) AS u, sum(g.tokens) AS t, sum(g.requests) AS r
                FROM gone g GROUP BY 1, 2, 3, 4
            )
            UPDATE purser_counters c SET
                reserved_usd = purser_sat(c.reserved_usd - x.u),
                reserved_tokens = purser_sat(c.reserved_tokens - x.t),
                reserved_requests = purser_sat(c.reserved_requests - x.r)
            FROM sums x
            WHERE c.budget = x.budget AND c.scope_key = x.scope_key AND c.period = x.period AND c.win = x.win;
        END
        $$
        """,
        // Counters as a read sees them: expired entries not given back yet are subtracted.
        // (PL/pgSQL rather than SQL, so that the query's plan is cached per session.)
        """
        CREATE FUNCTION purser_read(k_budget text[], k_scope text[], k_period text[], k_win bigint[]) RETURNS bigint[]
        LANGUAGE plpgsql STABLE AS $$
        BEGIN
            RETURN (SELECT coalesce(array_agg(n ORDER BY t.ord, i), '{}')
            FROM unnest(k_budget, k_scope, k_period, k_win) WITH ORDINALITY AS t(b, s, p, w, ord)
            LEFT JOIN purser_counters c ON c.budget = t.b AND c.scope_key = t.s AND c.period = t.p AND c.win = t.w
            LEFT JOIN LATERAL (
                SELECT coalesce(sum(e.usd), 0) AS u, coalesce(sum(e.tokens), 0) AS tk, coalesce(sum(e.requests), 0) AS r
                FROM purser_reservation_entries e
                WHERE e.budget = t.b AND e.scope_key = t.s AND e.period = t.p AND e.win = t.w
                  AND NOT e.released AND e.expires_at <= now()
            ) x ON true
            CROSS JOIN LATERAL unnest(ARRAY[
                coalesce(c.spent_usd, 0), coalesce(c.spent_tokens, 0), coalesce(c.spent_requests, 0),
                purser_sat(coalesce(c.reserved_usd, 0) - x.u), purser_sat(coalesce(c.reserved_tokens, 0) - x.tk),
                purser_sat(coalesce(c.reserved_requests, 0) - x.r),
                coalesce(c.peak_usd, 0), coalesce(c.peak_tokens, 0), coalesce(c.peak_requests, 0)
            ]) WITH ORDINALITY AS v(n, i));
        END
        $$
        """,
        // Checks every enforced cap and reserves every entry, or nothing (`exceeded` is the
        // 0-based index of the first entry over its cap; caps below zero mean none).
        """
        CREATE FUNCTION purser_reserve(
            \(reserveArguments)
        ) LANGUAGE plpgsql AS $$
        DECLARE
            n integer := coalesce(cardinality(k_budget), 0);
            c purser_counters%ROWTYPE;
            existing purser_reservations%ROWTYPE;
            o integer;
        BEGIN
            before := '{}'; after := '{}'; exceeded := -1;
            PERFORM pg_advisory_xact_lock(hashtextextended(r_id, 0));
            PERFORM purser_lock(k_budget, k_scope, k_period, k_win);
            FOR i IN 1..n LOOP
                SELECT * INTO c FROM purser_counters
                    WHERE budget = k_budget[i] AND scope_key = k_scope[i] AND period = k_period[i] AND win = k_win[i];
                before := before || purser_numbers(c);
            END LOOP;
            SELECT * INTO existing FROM purser_reservations WHERE id = r_id;
            IF FOUND THEN
                -- A retried reserve (its answer was lost) holds nothing twice.
                \(refuseUsedID)
            END IF;
            FOR attempt IN 1..2 LOOP
                \(capCheck)
                IF attempt = 2 THEN
                    outcome := 'exceeded';
                    RETURN;
                END IF;
                -- Over a cap: give back what expired on these counters, and check again.
                PERFORM purser_sweep(k_budget, k_scope, k_period, k_win);
                before := '{}';
                FOR i IN 1..n LOOP
                    SELECT * INTO c FROM purser_counters
                        WHERE budget = k_budget[i] AND scope_key = k_scope[i] AND period = k_period[i] AND win = k_win[i];
                    before := before || purser_numbers(c);
                END LOOP;
            END LOOP;
            FOR i IN 1..n LOOP
                UPDATE purser_counters SET
                    reserved_usd = purser_sat(reserved_usd::numeric + a_usd[i]),
                    reserved_tokens = purser_sat(reserved_tokens::numeric + a_tokens[i]),
                    reserved_requests = purser_sat(reserved_requests::numeric + a_requests[i]),
                    peak_usd = GREATEST(peak_usd, purser_sat(spent_usd::numeric + purser_sat(reserved_usd::numeric + a_usd[i]))),
                    peak_tokens = GREATEST(peak_tokens, purser_sat(spent_tokens::numeric + purser_sat(reserved_tokens::numeric + a_tokens[i]))),
                    peak_requests = GREATEST(peak_requests, purser_sat(spent_requests::numeric + purser_sat(reserved_requests::numeric + a_requests[i])))
                WHERE budget = k_budget[i] AND scope_key = k_scope[i] AND period = k_period[i] AND win = k_win[i]
                RETURNING * INTO c;
                after := after || purser_numbers(c);
            END LOOP;
            INSERT INTO purser_reservations (id, state, model, expires_at)
                VALUES (r_id, 'held', r_model, now() + make_interval(secs => r_ttl));
            INSERT INTO purser_reservation_entries (id, entry, budget, scope_key, period, win, usd, tokens, requests, expires_at)
                SELECT r_id, t.ord - 1, t.b, t.s, t.p, t.w, t.u, t.tk, t.r, now() + make_interval(secs => r_ttl)
                FROM unnest(k_budget, k_scope, k_period, k_win, a_usd, a_tokens, a_requests) WITH ORDINALITY AS t(b, s, p, w, u, tk, r, ord);
            outcome := 'reserved';
        END
        $$
        """,
        // Replaces a reservation with the actual spend, or counts the spend without one;
        // idempotent by id. Settled ids keep no entries.
        """
        CREATE FUNCTION purser_settle(
            r_id text, k_budget text[], k_scope text[], k_period text[], k_win bigint[],
            a_usd bigint[], a_tokens bigint[], a_requests bigint[],
            OUT outcome text, OUT before bigint[], OUT after bigint[]
        ) LANGUAGE plpgsql AS $$
        DECLARE
            n integer := coalesce(cardinality(k_budget), 0);
            c purser_counters%ROWTYPE;
            existing purser_reservations%ROWTYPE;
            held boolean := false;
            lb text[]; ls text[]; lp text[]; lw bigint[];
        BEGIN
            before := '{}'; after := '{}';
            PERFORM pg_advisory_xact_lock(hashtextextended(r_id, 0));
            SELECT * INTO existing FROM purser_reservations WHERE id = r_id;
            IF FOUND AND existing.state = 'settled' THEN
                outcome := 'already_settled';
                RETURN;
            END IF;
            held := FOUND AND existing.state = 'held' AND existing.expires_at > now();
            SELECT array_agg(b), array_agg(s), array_agg(p), array_agg(w) INTO lb, ls, lp, lw FROM (
                SELECT * FROM unnest(k_budget, k_scope, k_period, k_win) AS t(b, s, p, w)
                UNION
                SELECT budget, scope_key, period, win FROM purser_reservation_entries WHERE id = r_id AND NOT released
            ) keys;
            PERFORM purser_lock(coalesce(lb, '{}'), coalesce(ls, '{}'), coalesce(lp, '{}'), coalesce(lw, '{}'));
            PERFORM purser_give_back(r_id);
            FOR i IN 1..n LOOP
                SELECT * INTO c FROM purser_counters
                    WHERE budget = k_budget[i] AND scope_key = k_scope[i] AND period = k_period[i] AND win = k_win[i];
                before := before || purser_numbers(c);
                UPDATE purser_counters SET
                    spent_usd = purser_sat(spent_usd::numeric + a_usd[i]),
                    spent_tokens = purser_sat(spent_tokens::numeric + a_tokens[i]),
                    spent_requests = purser_sat(spent_requests::numeric + a_requests[i]),
                    peak_usd = GREATEST(peak_usd, purser_sat(purser_sat(spent_usd::numeric + a_usd[i])::numeric + reserved_usd)),
                    peak_tokens = GREATEST(peak_tokens, purser_sat(purser_sat(spent_tokens::numeric + a_tokens[i])::numeric + reserved_tokens)),
                    peak_requests = GREATEST(peak_requests, purser_sat(purser_sat(spent_requests::numeric + a_requests[i])::numeric + reserved_requests))
                WHERE budget = k_budget[i] AND scope_key = k_scope[i] AND period = k_period[i] AND win = k_win[i]
                RETURNING * INTO c;
                after := after || purser_numbers(c);
            END LOOP;
            DELETE FROM purser_reservation_entries WHERE id = r_id;
            INSERT INTO purser_reservations (id, state, model, expires_at, finished_at)
                VALUES (r_id, 'settled', existing.model, now(), now())
                ON CONFLICT (id) DO UPDATE SET state = 'settled', expires_at = now(), finished_at = now();
            outcome := CASE WHEN held THEN 'settled' ELSE 'settled_without_reservation' END;
        END
        $$
        """,
        """
        CREATE FUNCTION purser_release(r_id text) RETURNS text LANGUAGE plpgsql AS $$
        DECLARE
            existing purser_reservations%ROWTYPE;
            lb text[]; ls text[]; lp text[]; lw bigint[];
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtextextended(r_id, 0));
            SELECT * INTO existing FROM purser_reservations WHERE id = r_id;
            IF NOT FOUND OR existing.state <> 'held' OR existing.expires_at <= now() THEN
                RETURN 'not_held';
            END IF;
            SELECT array_agg(budget), array_agg(scope_key), array_agg(period), array_agg(win) INTO lb, ls, lp, lw
                FROM purser_reservation_entries WHERE id = r_id AND NOT released;
            PERFORM purser_lock(coalesce(lb, '{}'), coalesce(ls, '{}'), coalesce(lp, '{}'), coalesce(lw, '{}'));
            PERFORM purser_give_back(r_id);
            UPDATE purser_reservations SET state = 'released', finished_at = now() WHERE id = r_id;
            RETURN 'released';
        END
        $$
        """,
        // Forgets finished reservations past the retention, and expired ones whose entries were all given back.
        """
        CREATE FUNCTION purser_prune(retention_s bigint) RETURNS integer LANGUAGE plpgsql AS $$
        DECLARE
            cutoff timestamptz := now() - make_interval(secs => retention_s);
            gone text[];
            lb text[]; ls text[]; lp text[]; lw bigint[];
        BEGIN
            -- Counters still counting expired reservations (a replica that died, on a counter no
            -- cap check has swept since): give them back.
            SELECT array_agg(budget), array_agg(scope_key), array_agg(period), array_agg(win) INTO lb, ls, lp, lw FROM (
                SELECT DISTINCT budget, scope_key, period, win FROM purser_reservation_entries
                WHERE NOT released AND expires_at <= now() LIMIT 1000
            ) stale;
            IF lb IS NOT NULL THEN
                PERFORM purser_lock(lb, ls, lp, lw);
                PERFORM purser_sweep(lb, ls, lp, lw);
            END IF;
            SELECT coalesce(array_agg(id), '{}') INTO gone FROM (
                SELECT id FROM purser_reservations WHERE state <> 'held' AND finished_at < cutoff
                UNION ALL
                SELECT r.id FROM purser_reservations r WHERE r.state = 'held' AND r.expires_at < cutoff
                    AND NOT EXISTS (SELECT 1 FROM purser_reservation_entries e WHERE e.id = r.id AND NOT e.released)
                LIMIT 10000
            ) old;
            DELETE FROM purser_reservation_entries WHERE id = ANY (gone);
            DELETE FROM purser_reservations WHERE id = ANY (gone);
            RETURN cardinality(gone);
        END
        $$
        """,
    ]

    /// Version 2 (2026-12-07): the same tables and one new column; calls cost about half as much
    /// (docs/performance.md, "PostgreSQL, beside pgbench (2026-12-07)").
    ///
    /// - Each function plans its statements once per connection (`plan_cache_mode =
    ///   force_generic_plan`). Given arrays, PostgreSQL judged its generic plans costlier than
    ///   plans made for each call's values and planned every statement on every call: a quarter
    ///   of a reserve's time.
    /// - `purser_reserve` writes the reservation and its entries before it locks the counters,
    ///   then checks and reserves each counter, in key order, with one `UPDATE` that takes its
    ///   lock, so a hot counter's row is locked for that statement and the commit. The numbers an
    ///   `UPDATE` replaced are kept in the new column `prev` (PostgreSQL 15's `RETURNING` gives
    ///   only new values): a decision's `before`. A counter missing or over its cap puts back what
    ///   was reserved and takes the general path: lock every counter in key order, create the
    ///   missing, sweep the expired, check, reserve; a refused reserve deletes what it wrote.
    static let version2 = [
        "ALTER TABLE purser_counters ADD COLUMN prev bigint[]",
        """
        CREATE OR REPLACE FUNCTION purser_reserve(
            \(reserveArguments)
        ) LANGUAGE plpgsql AS $$
        DECLARE
            n integer := coalesce(cardinality(k_budget), 0);
            expires timestamptz := now() + make_interval(secs => r_ttl);
            existing purser_reservations%ROWTYPE;
            fresh boolean;
            r record;
            o integer;
            locked integer := 0;
            i integer;
            keyed integer[];
            distinct_keys integer;
            done integer := 0;
        BEGIN
            exceeded := -1;
            before := array_fill(0::bigint, ARRAY[9 * n]);
            after := before;
            PERFORM pg_advisory_xact_lock(hashtextextended(r_id, 0));
            INSERT INTO purser_reservations (id, state, model, expires_at) VALUES (r_id, 'held', r_model, expires)
                ON CONFLICT (id) DO NOTHING;
            fresh := FOUND;
            IF fresh THEN
                INSERT INTO purser_reservation_entries (id, entry, budget, scope_key, period, win, usd, tokens, requests, expires_at)
                    SELECT r_id, t.ord - 1, t.b, t.s, t.p, t.w, t.u, t.tk, t.r, expires
                    FROM unnest(k_budget, k_scope, k_period, k_win, a_usd, a_tokens, a_requests) WITH ORDINALITY AS t(b, s, p, w, u, tk, r, ord);
                -- The common case: every counter there, distinct and under its cap. Each is checked
                -- and reserved by one UPDATE that takes its lock, in key order; `prev` keeps the
                -- numbers it replaced (the right side of SET reads the old row), which are `before`.
                IF n = 1 THEN
                    keyed := ARRAY[1]; distinct_keys := 1;
                ELSIF n > 1 THEN
                    SELECT array_agg(t.ord::integer ORDER BY t.b, t.s, t.p, t.w), count(DISTINCT (t.b, t.s, t.p, t.w))
                        INTO keyed, distinct_keys
                        FROM unnest(k_budget, k_scope, k_period, k_win) WITH ORDINALITY AS t(b, s, p, w, ord);
                END IF;
                IF n > 0 AND distinct_keys = n THEN
                    FOREACH i IN ARRAY keyed LOOP
                        UPDATE purser_counters c SET
                            prev = purser_numbers(c),
                            reserved_usd = purser_sat(c.reserved_usd::numeric + a_usd[i]),
                            reserved_tokens = purser_sat(c.reserved_tokens::numeric + a_tokens[i]),
                            reserved_requests = purser_sat(c.reserved_requests::numeric + a_requests[i]),
                            peak_usd = GREATEST(c.peak_usd, purser_sat(c.spent_usd::numeric + purser_sat(c.reserved_usd::numeric + a_usd[i]))),
                            peak_tokens = GREATEST(c.peak_tokens, purser_sat(c.spent_tokens::numeric + purser_sat(c.reserved_tokens::numeric + a_tokens[i]))),
                            peak_requests = GREATEST(c.peak_requests, purser_sat(c.spent_requests::numeric + purser_sat(c.reserved_requests::numeric + a_requests[i])))
                        WHERE c.budget = k_budget[i] AND c.scope_key = k_scope[i] AND c.period = k_period[i] AND c.win = k_win[i]
                          AND NOT (enforced[i] AND (
                              (cap_usd[i] >= 0 AND c.spent_usd::numeric + c.reserved_usd + a_usd[i] > cap_usd[i]) OR
                              (cap_tokens[i] >= 0 AND c.spent_tokens::numeric + c.reserved_tokens + a_tokens[i] > cap_tokens[i]) OR
                              (cap_requests[i] >= 0 AND c.spent_requests::numeric + c.reserved_requests + a_requests[i] > cap_requests[i])))
                        RETURNING c.prev, purser_numbers(c) AS nums INTO r;
                        EXIT WHEN NOT FOUND;
                        o := 9 * (i - 1);
                        before[o + 1 : o + 9] := r.prev;
                        after[o + 1 : o + 9] := r.nums;
                        done := done + 1;
                    END LOOP;
                    IF done = n THEN
                        outcome := 'reserved';
                        RETURN;
                    END IF;
                    -- A counter missing or over its cap: put back the ones reserved (still locked by
                    -- this transaction, so unchanged since), and take the path below.
                    FOR k IN 1..done LOOP
                        o := 9 * (keyed[k] - 1);
                        UPDATE purser_counters SET
                            reserved_usd = before[o + 4], reserved_tokens = before[o + 5], reserved_requests = before[o + 6],
                            peak_usd = before[o + 7], peak_tokens = before[o + 8], peak_requests = before[o + 9]
                        WHERE budget = k_budget[keyed[k]] AND scope_key = k_scope[keyed[k]] AND period = k_period[keyed[k]]
                          AND win = k_win[keyed[k]];
                    END LOOP;
                END IF;
            END IF;
            -- Lock the counters in key order and read them; create the missing ones and do it again.
            FOR attempt IN 1..2 LOOP
                FOR r IN SELECT t.ord, purser_numbers(c) AS nums
                         FROM unnest(k_budget, k_scope, k_period, k_win) WITH ORDINALITY AS t(b, s, p, w, ord)
                         JOIN purser_counters c ON c.budget = t.b AND c.scope_key = t.s AND c.period = t.p AND c.win = t.w
                         ORDER BY c.budget, c.scope_key, c.period, c.win FOR UPDATE OF c
                LOOP
                    before[9 * r.ord - 8 : 9 * r.ord] := r.nums;
                    locked := locked + 1;
                END LOOP;
                EXIT WHEN locked >= n;  -- (a key named twice counts twice: harmless)
                locked := 0;
                INSERT INTO purser_counters (budget, scope_key, period, win)
                    SELECT DISTINCT t.b, t.s, t.p, t.w FROM unnest(k_budget, k_scope, k_period, k_win) AS t(b, s, p, w)
                    ORDER BY 1, 2, 3, 4
                    ON CONFLICT DO NOTHING;
            END LOOP;
            IF NOT fresh THEN
                -- A retried reserve (its answer was lost) holds nothing twice.
                SELECT * INTO existing FROM purser_reservations WHERE id = r_id;
                \(refuseUsedID)
            END IF;
            FOR attempt IN 1..2 LOOP
                \(capCheck)
                IF attempt = 2 THEN
                    DELETE FROM purser_reservation_entries WHERE id = r_id;
                    DELETE FROM purser_reservations WHERE id = r_id;
                    outcome := 'exceeded';
                    RETURN;
                END IF;
                -- Over a cap: give back what expired on these counters (still locked), and check again.
                PERFORM purser_sweep(k_budget, k_scope, k_period, k_win);
                FOR r IN SELECT t.ord, purser_numbers(c) AS nums
                         FROM unnest(k_budget, k_scope, k_period, k_win) WITH ORDINALITY AS t(b, s, p, w, ord)
                         JOIN purser_counters c ON c.budget = t.b AND c.scope_key = t.s AND c.period = t.p AND c.win = t.w
                LOOP
                    before[9 * r.ord - 8 : 9 * r.ord] := r.nums;
                END LOOP;
            END LOOP;
            -- One statement for every counter (a key named twice is reserved with the sum of its amounts).
            FOR r IN UPDATE purser_counters c SET
                    reserved_usd = purser_sat(c.reserved_usd + t.u),
                    reserved_tokens = purser_sat(c.reserved_tokens + t.tk),
                    reserved_requests = purser_sat(c.reserved_requests + t.rq),
                    peak_usd = GREATEST(c.peak_usd, purser_sat(c.spent_usd::numeric + purser_sat(c.reserved_usd + t.u))),
                    peak_tokens = GREATEST(c.peak_tokens, purser_sat(c.spent_tokens::numeric + purser_sat(c.reserved_tokens + t.tk))),
                    peak_requests = GREATEST(c.peak_requests, purser_sat(c.spent_requests::numeric + purser_sat(c.reserved_requests + t.rq)))
                FROM (SELECT x.b, x.s, x.p, x.w, sum(x.u) AS u, sum(x.tk) AS tk, sum(x.rq) AS rq
                      FROM unnest(k_budget, k_scope, k_period, k_win, a_usd, a_tokens, a_requests) AS x(b, s, p, w, u, tk, rq)
                      GROUP BY 1, 2, 3, 4) t
                WHERE c.budget = t.b AND c.scope_key = t.s AND c.period = t.p AND c.win = t.w
                RETURNING c.budget, c.scope_key, c.period, c.win, purser_numbers(c) AS nums
            LOOP
                FOR i IN 1..n LOOP
                    IF k_budget[i] = r.budget AND k_scope[i] = r.scope_key AND k_period[i] = r.period AND k_win[i] = r.win THEN
                        after[9 * i - 8 : 9 * i] := r.nums;
                    END IF;
                END LOOP;
            END LOOP;
            outcome := 'reserved';
        END
        $$
        """,
        "ALTER FUNCTION purser_reserve SET plan_cache_mode = force_generic_plan",
        "ALTER FUNCTION purser_settle SET plan_cache_mode = force_generic_plan",
        "ALTER FUNCTION purser_release SET plan_cache_mode = force_generic_plan",
        "ALTER FUNCTION purser_read SET plan_cache_mode = force_generic_plan",
        "ALTER FUNCTION purser_prune SET plan_cache_mode = force_generic_plan",
    ]
}
