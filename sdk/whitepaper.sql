-- The whitepaper's example (figure 6), typos corrected (REPLACE; END IF;),
-- with "to" quoted as PostgreSQL needs and a LANGUAGE; then what the SDK
-- tests add: a constructor that opens alice's account, fund (opens or tops
-- up an account and emits an event), and a read-only balance_of.
CREATE TABLE IF NOT EXISTS accounts (
    owner VARCHAR NOT NULL PRIMARY KEY,
    balance NUMERIC (15, 2)
);

CREATE OR REPLACE FUNCTION
transfer (sender text, "to" text, amount numeric (15, 2))
RETURNS text
AS
$$
DECLARE
    sender_bal numeric ;
BEGIN
    SELECT balance INTO sender_bal FROM accounts WHERE owner = sender ;
    IF NOT FOUND THEN
        RETURN 'Sender not found' ;
    END IF;
    IF sender_bal < amount THEN
        RETURN 'Not enough balance' ;
    END IF;
    UPDATE accounts SET balance = balance + amount WHERE owner = "to" ;
    IF NOT FOUND THEN
        RETURN 'Receiver not found' ;
    END IF;
    UPDATE accounts SET balance = balance - amount WHERE owner = sender ;
    RETURN 'OK' ;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION constructor(initial NUMERIC) RETURNS VOID AS $$
BEGIN
    INSERT INTO accounts VALUES ('alice', initial);
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION fund(who VARCHAR, amt NUMERIC) RETURNS VOID AS $$
BEGIN
    INSERT INTO accounts VALUES (who, amt)
        ON CONFLICT (owner) DO UPDATE SET balance = accounts.balance + excluded.balance;
    PERFORM aergo_emit('funded', '["' || who || '", "' || amt || '"]');
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION balance_of(who VARCHAR) RETURNS NUMERIC AS $$
    SELECT balance FROM accounts WHERE owner = who;
$$ LANGUAGE sql;
