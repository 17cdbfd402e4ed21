"""SQL of the ledger's PostgreSQL guards (migration 0004), kept apart so the benchmark can
drop them to measure what they cost. A leading underscore keeps Django's migration loader
away from this module."""

# Set-based since 0004: the postings of a transaction are written in one statement (Django's
# bulk_create and the bulk COPY path both do), and a statement-level trigger with a transition
# table checks every transaction the statement touched in one query — instead of a deferred
# trigger firing once per posting row. An empty transaction is still caught at commit by a
# deferred row trigger on ledger_transaction, which only has to look for one posting.
CREATE = """
DROP TRIGGER IF EXISTS ledger_posting_balanced ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_transaction;
DROP FUNCTION IF EXISTS ledger_check_transaction_balanced();

CREATE OR REPLACE FUNCTION ledger_check_postings_statement() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    -- The statement's own postings, grouped per transaction: one pass over the transition
    -- table. A posting added to a transaction later would meet older postings of it; those
    -- have lower ids (they were visible when this statement began), found by index.
    WITH touched AS (
        SELECT n.transaction_id,
               count(*) AS n,
               sum(n.amount_minor) AS total,
               count(DISTINCT n.currency) AS currencies,
               max(n.currency) AS currency,
               min(n.id) AS first_id
          FROM new_postings n
         GROUP BY n.transaction_id
    )
    SELECT tt.transaction_id, tt.n, tt.total, tt.currencies,
           tt.currency IS DISTINCT FROM t.currency AS foreign_currency,
           EXISTS (
               SELECT 1 FROM ledger_posting p
                WHERE p.transaction_id = tt.transaction_id AND p.id < tt.first_id
           ) AS earlier
      INTO bad
      FROM touched tt
      JOIN ledger_transaction t ON t.id = tt.transaction_id
     WHERE tt.n < 2 OR tt.total <> 0 OR tt.currencies <> 1
        OR tt.currency IS DISTINCT FROM t.currency
        OR EXISTS (
               SELECT 1 FROM ledger_posting p
                WHERE p.transaction_id = tt.transaction_id AND p.id < tt.first_id
           )
     LIMIT 1;
    IF FOUND THEN
        IF bad.earlier THEN
            RAISE EXCEPTION 'ledger: transaction % already has postings; a transaction''s postings are written together, once', bad.transaction_id
                USING ERRCODE = 'check_violation';
        ELSIF bad.n < 2 THEN
            RAISE EXCEPTION 'ledger: transaction % has % posting(s), needs at least two', bad.transaction_id, bad.n
                USING ERRCODE = 'check_violation';
        ELSIF bad.total <> 0 THEN
            RAISE EXCEPTION 'ledger: postings of transaction % sum to %, not zero', bad.transaction_id, bad.total
                USING ERRCODE = 'check_violation';
        ELSE
            RAISE EXCEPTION 'ledger: transaction % mixes currencies', bad.transaction_id
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_posting_balanced
    AFTER INSERT ON ledger_posting
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_postings_statement();

CREATE OR REPLACE FUNCTION ledger_check_transaction_has_postings() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM ledger_posting WHERE transaction_id = NEW.id LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger: transaction % has 0 posting(s), needs at least two', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_transaction_has_postings
    AFTER INSERT ON ledger_transaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_transaction_has_postings();
"""

# Back to the row-level checks of migration 0002.
REVERSE = """
DROP TRIGGER IF EXISTS ledger_transaction_has_postings ON ledger_transaction;
DROP FUNCTION IF EXISTS ledger_check_transaction_has_postings();
DROP TRIGGER IF EXISTS ledger_posting_balanced ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_check_postings_statement();
"""

# Every guard (append-only and balance), for the benchmark's "what do they cost" run.
DROP = (
    REVERSE
    + """
DROP TRIGGER IF EXISTS ledger_transaction_append_only ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_posting_append_only ON ledger_posting;
"""
)
