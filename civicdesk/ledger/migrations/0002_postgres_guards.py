"""PostgreSQL guards for the ledger: append-only tables and balanced transactions at commit.

On SQLite (the embedded default) this migration does nothing; the services and the models'
append-only guard hold the same rules there.
"""

from django.db import migrations

GUARDS = """
CREATE OR REPLACE FUNCTION ledger_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % is forbidden (append-only)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_posting_append_only
    BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER ledger_transaction_append_only
    BEFORE UPDATE OR DELETE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();

CREATE OR REPLACE FUNCTION ledger_check_transaction_balanced() RETURNS trigger AS $$
DECLARE
    txn_id uuid;
    txn_currency varchar;
    n bigint;
    total numeric;
    currencies bigint;
    foreign_currency bigint;
BEGIN
    IF TG_TABLE_NAME = 'ledger_posting' THEN
        txn_id := NEW.transaction_id;
    ELSE
        txn_id := NEW.id;
    END IF;
    SELECT currency INTO txn_currency FROM ledger_transaction WHERE id = txn_id;
    SELECT count(*), coalesce(sum(amount_minor), 0), count(DISTINCT currency),
           count(*) FILTER (WHERE currency IS DISTINCT FROM txn_currency)
      INTO n, total, currencies, foreign_currency
      FROM ledger_posting WHERE transaction_id = txn_id;
    IF n < 2 THEN
        RAISE EXCEPTION 'ledger: transaction % has % posting(s), needs at least two', txn_id, n
            USING ERRCODE = 'check_violation';
    END IF;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger: postings of transaction % sum to %, not zero', txn_id, total
            USING ERRCODE = 'check_violation';
    END IF;
    IF currencies <> 1 OR foreign_currency <> 0 THEN
        RAISE EXCEPTION 'ledger: transaction % mixes currencies', txn_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_posting_balanced
    AFTER INSERT ON ledger_posting
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_transaction_balanced();
CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT ON ledger_transaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_transaction_balanced();
"""

DROP_GUARDS = """
DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_posting_balanced ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_check_transaction_balanced();
DROP TRIGGER IF EXISTS ledger_transaction_append_only ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_posting_append_only ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_forbid_change();
"""


def _run(sql):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # A plain cursor with no parameters: the SQL holds literal % signs (RAISE formats).
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunPython(_run(GUARDS), _run(DROP_GUARDS), elidable=False)]
