-- Smallbank (Alomari, Cahill, Fekete, Röhm, ICDE 2008) as an AERGO SQL
-- contract: six transaction types over a checking and a savings account
-- per customer. Customers are keyed by name in both tables (the name ->
-- custid indirection of the original is folded in), so that the rows of
-- each call follow from its arguments and the static access analysis
-- names them exactly.
CREATE TABLE savings (name VARCHAR(64) PRIMARY KEY, bal NUMERIC(20, 2) NOT NULL);
CREATE TABLE checking (name VARCHAR(64) PRIMARY KEY, bal NUMERIC(20, 2) NOT NULL);

CREATE FUNCTION open_account(n VARCHAR, s NUMERIC, c NUMERIC) RETURNS VOID AS $$
BEGIN
    INSERT INTO savings VALUES (n, s);
    INSERT INTO checking VALUES (n, c);
END;
$$ LANGUAGE plpgsql;

-- Balance: the total of the customer (a read as a transaction).
CREATE FUNCTION balance(n VARCHAR) RETURNS NUMERIC AS $$
DECLARE
    s NUMERIC;
    c NUMERIC;
BEGIN
    SELECT bal INTO s FROM savings WHERE name = n;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer %', n;
    END IF;
    SELECT bal INTO c FROM checking WHERE name = n;
    RETURN s + c;
END;
$$ LANGUAGE plpgsql;

-- DepositChecking: a positive amount into checking.
CREATE FUNCTION deposit_checking(n VARCHAR, amount NUMERIC) RETURNS VOID AS $$
BEGIN
    IF amount < 0 THEN
        RAISE EXCEPTION 'negative deposit %', amount;
    END IF;
    UPDATE checking SET bal = bal + amount WHERE name = n;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer %', n;
    END IF;
END;
$$ LANGUAGE plpgsql;

-- TransactSavings: add (or take) an amount to savings; never below zero.
CREATE FUNCTION transact_savings(n VARCHAR, amount NUMERIC) RETURNS VOID AS $$
DECLARE
    s NUMERIC;
BEGIN
    SELECT bal INTO s FROM savings WHERE name = n;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer %', n;
    END IF;
    IF s + amount < 0 THEN
        RAISE EXCEPTION 'savings of % would go negative', n;
    END IF;
    UPDATE savings SET bal = bal + amount WHERE name = n;
END;
$$ LANGUAGE plpgsql;

-- Amalgamate: everything of customer a moves to the checking of b.
CREATE FUNCTION amalgamate(a VARCHAR, b VARCHAR) RETURNS VOID AS $$
DECLARE
    s NUMERIC;
    c NUMERIC;
BEGIN
    SELECT bal INTO s FROM savings WHERE name = a;
    SELECT bal INTO c FROM checking WHERE name = a;
    IF s IS NULL OR c IS NULL THEN
        RAISE EXCEPTION 'no customer %', a;
    END IF;
    UPDATE savings SET bal = 0 WHERE name = a;
    UPDATE checking SET bal = 0 WHERE name = a;
    UPDATE checking SET bal = bal + s + c WHERE name = b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer %', b;
    END IF;
END;
$$ LANGUAGE plpgsql;

-- WriteCheck: an overdraft costs a penalty of 1.
CREATE FUNCTION write_check(n VARCHAR, amount NUMERIC) RETURNS VOID AS $$
DECLARE
    s NUMERIC;
    c NUMERIC;
BEGIN
    SELECT bal INTO s FROM savings WHERE name = n;
    SELECT bal INTO c FROM checking WHERE name = n;
    IF s IS NULL OR c IS NULL THEN
        RAISE EXCEPTION 'no customer %', n;
    END IF;
    IF s + c < amount THEN
        UPDATE checking SET bal = bal - (amount + 1) WHERE name = n;
    ELSE
        UPDATE checking SET bal = bal - amount WHERE name = n;
    END IF;
END;
$$ LANGUAGE plpgsql;

-- SendPayment: from the checking of a to that of b, if a has it.
CREATE FUNCTION send_payment(a VARCHAR, b VARCHAR, amount NUMERIC) RETURNS VOID AS $$
DECLARE
    c NUMERIC;
BEGIN
    SELECT bal INTO c FROM checking WHERE name = a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer %', a;
    END IF;
    IF c < amount THEN
        RAISE EXCEPTION 'insufficient funds in % checking', a;
    END IF;
    UPDATE checking SET bal = bal - amount WHERE name = a;
    UPDATE checking SET bal = bal + amount WHERE name = b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer %', b;
    END IF;
END;
$$ LANGUAGE plpgsql
